"""One training loop for every recipe: packing, AdamW with warmup and cosine decay, checkpoints, resume.

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
    bf16: bool = False  # bf16 autocast backward measured 10x slower than fp32 on this CPU
    seed: int = 0
    min_lr_ratio: float = 0.1
    # False: one example a row, rows padded to the batch's longest. Packed rows let an example attend to the
    # ones before it, which stalled copying by content (see ENCODER_COPY_SETTINGS).
    pack: bool = True


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


def pack_batch(stream: EncodedStream, cursor: int, settings: LoopSettings, pad_id: int):
    """Fill each row with whole examples until the next would not fit (or with one, when settings.pack is
    False); returns tensors and the new cursor."""
    rows: list[tuple[list[int], list[int]]] = []
    for _ in range(settings.batch_size):
        ids, labels = [], []
        while True:
            example_ids, example_labels = stream(cursor)
            if len(example_ids) > settings.seq_len:  # too long to learn from whole: skip it
                cursor += 1
                continue
            if len(ids) + len(example_ids) > settings.seq_len or (ids and not settings.pack):
                break
            ids += example_ids
            labels += example_labels
            cursor += 1
        rows.append((ids, labels))
    width = settings.seq_len if settings.pack else max(len(ids) for ids, _ in rows)
    rows_ids = [ids + [pad_id] * (width - len(ids)) for ids, _ in rows]
    rows_labels = [labels + [IGNORE] * (width - len(labels)) for _, labels in rows]
    return torch.tensor(rows_ids), torch.tensor(rows_labels), cursor


def body_and_head(causal_lm):
    """The transformer body and the head that maps its states to the vocabulary.

    Llama-style models name them `model` and `lm_head`; BERT-style decoders `bert` and `cls` (a transform,
    then the tied projection)."""
    return causal_lm.base_model, getattr(causal_lm, "lm_head", None) or causal_lm.cls


def answer_loss(model, ids: torch.Tensor, labels: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Next-token loss computed only where there is a label.

    The output projection over the vocabulary is the costliest layer of a small model, and most positions
    (prompts, padding) carry no label, so projecting only the labelled positions saves most of its time.
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone, head = body_and_head(causal_lm)
    hidden = backbone(input_ids=ids, attention_mask=(ids != pad_id).long()).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def _save_checkpoint(folder: Path, model, optimizer, progress: Progress) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    trainable = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    save_file(trainable, folder / "trainable.safetensors")
    moments = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            value = value.detach().cpu()
            moments[f"{index}.{key}"] = value.reshape(-1).contiguous() if value.dim() == 0 else value.contiguous()
    save_file(moments, folder / "optimizer.safetensors")
    (folder / "progress.json").write_text(json.dumps(asdict(progress)))


def _load_checkpoint(folder: Path, model, optimizer) -> Progress:
    trainable = load_file(folder / "trainable.safetensors")
    model.load_state_dict(trainable, strict=False)
    moments = load_file(folder / "optimizer.safetensors")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in moments.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.reshape(()) if name == "step" else value
    optimizer_state = optimizer.state_dict()
    optimizer_state["state"] = state
    optimizer.load_state_dict(optimizer_state)
    data = json.loads((folder / "progress.json").read_text())
    data["losses"] = [tuple(pair) for pair in data["losses"]]
    data["segments"] = [tuple(segment) for segment in data.get("segments", [])]
    return Progress(**data)


def train(model, stream: EncodedStream, settings: LoopSettings, pad_id: int, checkpoint_dir: Path | None,
          description: str = "training", on_checkpoint: Callable[[Progress], None] | None = None,
          stop_at: int | None = None) -> Progress:
    """Train `model` in place for settings.steps optimizer steps, resuming from checkpoint_dir if present.

    stop_at ends this call early (after a checkpoint at that step); rerunning continues where it stopped.
    """
    torch.manual_seed(settings.seed)
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
        ids, labels, progress.cursor = pack_batch(stream, progress.cursor, settings, pad_id)
        ids, labels = ids.to(device), labels.to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings, progress.step)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.bf16):
            loss = answer_loss(model, ids, labels, pad_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        progress.step += 1
        progress.tokens += int((ids != pad_id).sum())
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
