"""One training loop for every recipe: batching, AdamW with warmup and cosine decay, checkpoints, resume.

A causal model trains on packed rows (whole examples end to end); an encoder-decoder model on one
(input, target) pair a row.

Checkpoints hold the model and the optimizer state as safetensors plus a JSON progress file, so a run that
is stopped (a session ends, a laptop sleeps) continues from its last checkpoint with the same data stream.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from fourpaths.errors import FourpathsError
from fourpaths.training.encoding import IGNORE

TRAIN_DEVICE_VARIABLE = "FOURPATHS_TRAIN_DEVICE"

EncodedStream = Callable[[int], tuple[list[int], list[int]]]


@dataclass
class LoopSettings:
    steps: int
    batch_size: int
    seq_len: int
    learning_rate: float
    warmup_steps: int = 50
    weight_decay: float = 0.01
    checkpoint_every: int = 100
    seed: int = 0
    min_lr_ratio: float = 0.1


@dataclass
class Progress:
    step: int = 0
    cursor: int = 0  # index of the next example in the stream
    seconds: float = 0.0
    tokens: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    # (first step, last step, the run's total steps): a schedule changed on resume stays reproducible
    segments: list[tuple[int, int, int]] = field(default_factory=list)

    def recent_loss(self, last: int = 20) -> float:
        """Mean of the last steps' losses: one step's loss is too noisy to quote."""
        tail = [loss for _, loss in self.losses[-last:]]
        return round(sum(tail) / max(1, len(tail)), 4)


def training_device() -> torch.device:
    """Where the recipes train: FOURPATHS_TRAIN_DEVICE when set, else a CUDA GPU when there is one, else the CPU.

    Only the optimizer steps run there; the model comes back to the CPU afterwards, so the recipes' own
    measurements and saving stay the same on every machine.
    """
    wanted = os.environ.get(TRAIN_DEVICE_VARIABLE, "").strip()
    if not wanted:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(wanted)
    except RuntimeError:
        raise FourpathsError(f"{TRAIN_DEVICE_VARIABLE}={wanted} is not a device name (cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FourpathsError(f"{TRAIN_DEVICE_VARIABLE}={wanted}, but this machine has no CUDA device")
    return device


def learning_rate(settings: LoopSettings, step: int) -> float:
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    done = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, done)))
    return settings.learning_rate * (settings.min_lr_ratio + (1 - settings.min_lr_ratio) * cosine)


MAX_SKIPPED = 1000  # examples too long for a row, in a row, before the stream is declared unusable


def _next_fitting(stream: EncodedStream, cursor: int, seq_len: int) -> tuple[list[int], list[int], int]:
    """The next example no longer than seq_len (longer ones cannot be learnt whole: skipped) and its index."""
    for _ in range(MAX_SKIPPED):
        ids, labels = stream(cursor)
        if len(ids) <= seq_len:
            return ids, labels, cursor
        cursor += 1
    raise FourpathsError(f"{MAX_SKIPPED} examples in a row are longer than the {seq_len}-token rows; raise seq_len")


def pack_batch(stream: EncodedStream, cursor: int, settings: LoopSettings, pad_id: int):
    """Rows of whole examples, each filled until the next would not fit: (ids, labels, attention mask, the
    new cursor). The mask comes from the rows' lengths, so a pad id that is also a real token (GPT-2's end
    token) is still attended to where it is real."""
    rows: list[tuple[list[int], list[int]]] = []
    for _ in range(settings.batch_size):
        ids, labels = [], []
        while True:
            example_ids, example_labels, at = _next_fitting(stream, cursor, settings.seq_len)
            if len(ids) + len(example_ids) > settings.seq_len:
                cursor = at  # the skipped ones stay skipped; this one starts the next row
                break
            ids += example_ids
            labels += example_labels
            cursor = at + 1
        rows.append((ids, labels))
    return _padded(rows, settings.seq_len, pad_id) + (cursor,)


def pair_batch(stream: EncodedStream, cursor: int, settings: LoopSettings, pad_id: int):
    """One (input, target) pair a row, inputs and targets each padded to the batch's longest:
    (input ids, target labels, input attention mask, the new cursor)."""
    inputs, targets = [], []
    for _ in range(settings.batch_size):
        ids, target, at = _next_fitting(stream, cursor, settings.seq_len)
        inputs.append(ids)
        targets.append(target)
        cursor = at + 1
    ids, _, mask = _padded([(ids, ids) for ids in inputs], max(map(len, inputs)), pad_id)
    labels = torch.tensor([target + [IGNORE] * (max(map(len, targets)) - len(target)) for target in targets])
    return ids, labels, mask, cursor


def _padded(rows: list[tuple[list[int], list[int]]], width: int, pad_id: int):
    ids = torch.tensor([row + [pad_id] * (width - len(row)) for row, _ in rows])
    labels = torch.tensor([labels + [IGNORE] * (width - len(labels)) for _, labels in rows])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row, _ in rows])
    return ids, labels, mask


def is_encoder_decoder(model) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def batch_loss(model, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The loss on the labelled tokens.

    For a causal model with an `lm_head` (Llama, Qwen2, GPT-2) the output projection, the costliest layer of
    a small model, runs only on the labelled positions: most positions (prompts, padding) carry no label.
    Anything else computes its loss through its own forward with labels."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(inner, "lm_head", None)
    if is_encoder_decoder(inner) or head is None:
        return model(input_ids=ids, attention_mask=mask, labels=labels).loss
    hidden = inner.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def optimizer_moments(optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's state as flat tensors, for a safetensors checkpoint (no pickles)."""
    moments = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            value = value.detach().cpu()
            moments[f"{index}.{key}"] = value.reshape(-1).contiguous() if value.dim() == 0 else value.contiguous()
    return moments


def restore_optimizer(optimizer, moments: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in moments.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.reshape(()) if name == "step" else value
    optimizer_state = optimizer.state_dict()
    optimizer_state["state"] = state
    optimizer.load_state_dict(optimizer_state)


def _save_checkpoint(folder: Path, model, optimizer, progress: Progress) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    trainable = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    save_file(trainable, folder / "trainable.safetensors")
    save_file(optimizer_moments(optimizer), folder / "optimizer.safetensors")
    (folder / "progress.json").write_text(json.dumps(asdict(progress)))


def _load_checkpoint(folder: Path, model, optimizer) -> Progress:
    trainable = load_file(folder / "trainable.safetensors")
    model.load_state_dict(trainable, strict=False)
    restore_optimizer(optimizer, load_file(folder / "optimizer.safetensors"))
    data = json.loads((folder / "progress.json").read_text())
    data["losses"] = [tuple(pair) for pair in data["losses"]]
    data["segments"] = [tuple(segment) for segment in data.get("segments", [])]
    return Progress(**data)


def train(model, stream: EncodedStream, settings: LoopSettings, pad_id: int | None, checkpoint_dir: Path | None,
          description: str = "training", on_checkpoint: Callable[[Progress], None] | None = None,
          stop_at: int | None = None) -> Progress:
    """Train `model` in place for settings.steps optimizer steps, resuming from checkpoint_dir if present.

    stop_at ends this call early (after a checkpoint at that step); rerunning continues where it stopped.
    """
    torch.manual_seed(settings.seed)
    make_batch = pair_batch if is_encoder_decoder(model) else pack_batch
    pad_id = 0 if pad_id is None else pad_id  # any id: the mask, not the id, marks padding
    device = training_device()
    model.to(device)  # before the optimizer: its state lives beside the parameters
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay,
                                  betas=(0.9, 0.95))
    progress = Progress()
    if checkpoint_dir is not None and (checkpoint_dir / "progress.json").exists():
        progress = _load_checkpoint(checkpoint_dir, model, optimizer)
    model.train()
    end = min(settings.steps, stop_at or settings.steps)
    if progress.step < end:
        progress.segments.append((progress.step, end, settings.steps))
    bar = tqdm(total=settings.steps, initial=progress.step, desc=description, unit="step", dynamic_ncols=True)
    while progress.step < end:
        started = time.perf_counter()
        ids, labels, mask, progress.cursor = make_batch(stream, progress.cursor, settings, pad_id)
        ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings, progress.step)
        loss = batch_loss(model, ids, labels, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        progress.step += 1
        progress.tokens += int(mask.sum()) + (int((labels != IGNORE).sum()) if make_batch is pair_batch else 0)
        progress.seconds += time.perf_counter() - started
        progress.losses.append((progress.step, round(loss.item(), 4)))
        bar.set_postfix(loss=f"{progress.losses[-1][1]:.3f}")
        bar.update(1)
        if checkpoint_dir is not None and (progress.step % settings.checkpoint_every == 0 or progress.step == end):
            _save_checkpoint(checkpoint_dir, model, optimizer, progress)
            if on_checkpoint:
                on_checkpoint(progress)
    bar.close()
    model.to("cpu")
    return progress
