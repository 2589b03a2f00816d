"""Streaming generation with its clock.

A lean decode loop over a key/value cache: several prompts go through one forward pass per step (left
padded), each row may use a different adapter (PEFT per-row `adapter_names`), and every chosen token is
reported at once with the time it arrived. Small models spend most of `generate`'s time in per-token Python
overhead, so one batched loop for the rows that share weights is the main speed lever.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from transformers import DynamicCache

from fourpaths.row_adapters import gated_adapter

BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed batch


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 48
    temperature: float = 0.0  # 0: greedy
    seed: int = 0


@dataclass(frozen=True)
class Row:
    prompt_ids: list[int]
    adapter: str | None = None  # None: the bare model
    constraint: object | None = None  # limits the tokens the row may choose (see fourpaths.quoting)


@dataclass(frozen=True)
class TokenStep:
    row: int
    token_id: int | None  # None: the row has finished
    at: float  # time.perf_counter() when the token was chosen


def _left_mask(rows: Sequence[Row]) -> torch.Tensor:
    """1 over each row's prompt, 0 over the padding before it, for left-aligned batched decoding."""
    width = max(len(row.prompt_ids) for row in rows)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        mask[index, width - len(row.prompt_ids):] = 1
    return mask


def _adapter_arguments(model, rows: Sequence[Row]) -> dict[str, object]:
    """Per-row adapter names, except when every row uses the active adapter: then PEFT needs no hooks.

    (Measured: `adapter_names=["__base__", ...]` is cheaper per step than toggling `disable_adapter()`.)"""
    if not hasattr(model, "peft_config"):
        return {}
    names = [row.adapter or BASE_ADAPTER for row in rows]
    if len(set(names)) == 1 and names[0] == model.active_adapter:
        return {}
    return {"adapter_names": names}


@contextmanager
def _adapters_for(model, rows: Sequence[Row]):
    """The keyword arguments that give each row its adapter in one forward pass, with any gating in force.

    A batch that mixes the active adapter with bare-base rows gates the adapter per row (row_adapters);
    any other mix goes through PEFT's per-row `adapter_names`."""
    names = [row.adapter for row in rows]
    active = getattr(model, "active_adapter", None)
    if hasattr(model, "peft_config") and active is not None and set(names) == {active, None}:
        with gated_adapter(model, active, [name == active for name in names]):
            yield {}
        return
    yield _adapter_arguments(model, rows)


def _forward(model, rows: Sequence[Row], **inputs):
    """One forward pass for `rows`; only the last position's logits are needed, so only it is projected
    onto the vocabulary (on a long RAG prompt the full projection costs more than the layers)."""
    with _adapters_for(model, rows) as extra:
        return model(**inputs, **extra, logits_to_keep=1).logits[:, -1, :]


def _prefill(model, rows: Sequence[Row]) -> tuple[torch.Tensor, DynamicCache, torch.Tensor]:
    """Each prompt through the model alone, then their caches stacked, left-padded, for batched decoding.

    Why not one padded batch: prompts differ a lot in length (a RAG prompt is ten times a zero-shot one),
    and a padded batch would push every row through the longest prompt. Measured on the shipped models,
    the padded prefill made the three batched paths slower than running them one after another.
    """
    last_logits, caches = [], []
    for row in rows:
        cache = DynamicCache()
        ids = torch.tensor([row.prompt_ids])
        last_logits.append(_forward(model, [row], input_ids=ids, past_key_values=cache, use_cache=True))
        caches.append(cache)
    width = max(len(row.prompt_ids) for row in rows)
    merged = DynamicCache()
    for layer in range(len(caches[0].layers)):
        keys = [_left_pad_time(cache.layers[layer].keys, width) for cache in caches]
        values = [_left_pad_time(cache.layers[layer].values, width) for cache in caches]
        merged.update(torch.cat(keys), torch.cat(values), layer)
    return torch.cat(last_logits), merged, _left_mask(rows)


def _left_pad_time(states: torch.Tensor, width: int) -> torch.Tensor:
    """Zeros before the time axis (dim -2) up to `width`; the attention mask hides them."""
    missing = width - states.shape[-2]
    return torch.nn.functional.pad(states, (0, 0, missing, 0)) if missing else states


def _constrain(logits: torch.Tensor, rows: Sequence[Row], stop_ids: set[int]) -> torch.Tensor:
    """Each constrained row's logits with every token it may not take next set to minus infinity."""
    for position, row in enumerate(rows):
        if row.constraint is None:
            continue
        allowed = set(row.constraint.allowed_tokens())
        if row.constraint.may_stop():
            allowed |= {token for token in stop_ids if token is not None}
        blocked = torch.full_like(logits[position], float("-inf"))
        blocked[sorted(allowed)] = 0.0
        logits[position] = logits[position] + blocked
    return logits


def _choose(logits: torch.Tensor, sampling: Sampling, generators: list[torch.Generator]) -> list[int]:
    if sampling.temperature <= 0:
        return logits.argmax(dim=-1).tolist()
    probabilities = torch.softmax(logits / sampling.temperature, dim=-1)
    return [int(torch.multinomial(probabilities[i], 1, generator=generators[i])) for i in range(len(generators))]


def _forced_run(row: Row, token: int, stop_ids: set[int], room: int) -> list[int]:
    """The tokens a constrained row must take after `token`: while it may not stop and one token is allowed.

    Why: a quote copies its passage, so once it has begun, most of its tokens are the only ones allowed, and
    choosing each by a forward pass of its own would spend a step on a foregone choice. They are fed to the
    model together instead; the answer is the same, token for token, and the model still makes every real
    choice (where to start, which way to go where passages share words, when to stop)."""
    if row.constraint is None or token in stop_ids:
        return []
    forced: list[int] = []
    while len(forced) < room and not row.constraint.may_stop():
        allowed = row.constraint.allowed_tokens()
        if len(allowed) != 1:
            break
        (only,) = allowed
        row.constraint.advance(only)
        forced.append(only)
    return forced


@torch.inference_mode()
def stream_tokens(model, rows: Sequence[Row], sampling: Sampling, stop_ids: set[int],
                  fast_forward: bool = True) -> Iterator[TokenStep]:
    """Yield each row's tokens as they are chosen, then a final step with token_id None for that row.

    A finished row leaves the batch (its cache rows are dropped), so a short answer costs nothing after it ends.
    A constrained row alone in its batch takes its forced tokens in one forward pass (see _forced_run).
    """
    logits, cache, mask = _prefill(model, rows)
    next_position = torch.tensor([[len(row.prompt_ids)] for row in rows])
    generators = [torch.Generator().manual_seed(sampling.seed) for _ in rows]
    active = list(range(len(rows)))  # indices into `rows` still generating, in batch order
    produced = 0  # tokens each active row has so far
    while True:
        logits = _constrain(logits.float(), [rows[i] for i in active], stop_ids)
        chosen = _choose(logits, sampling, [generators[i] for i in active])
        now = time.perf_counter()
        for index, token in zip(active, chosen):
            if rows[index].constraint is not None and token not in stop_ids:
                rows[index].constraint.advance(token)
        produced += 1
        alone = fast_forward and len(active) == 1
        forced = _forced_run(rows[active[0]], chosen[0], stop_ids, sampling.max_new_tokens - produced) if alone else []
        produced += len(forced)
        going = [(index, token) for index, token in zip(active, chosen) if token not in stop_ids]
        for index, token in zip(active, chosen):
            yield TokenStep(index, None if token in stop_ids else token, now)
        for token in forced:
            yield TokenStep(active[0], token, now)
        if not going or produced >= sampling.max_new_tokens:
            active = [index for index, _ in going]
            break
        if len(going) < len(active):
            keep = torch.tensor([active.index(index) for index, _ in going])
            cache.batch_select_indices(keep)
            mask, next_position = mask[keep], next_position[keep]
            active = [index for index, _ in going]
        feed = torch.tensor([[token, *forced] for _, token in going])
        width = feed.shape[1]
        mask = torch.cat([mask, torch.ones((len(active), width), dtype=torch.long)], dim=1)
        logits = _forward(model, [rows[i] for i in active], input_ids=feed, attention_mask=mask,
                          position_ids=next_position + torch.arange(width), past_key_values=cache, use_cache=True)
        next_position = next_position + width
    end = time.perf_counter()
    for index in active:
        yield TokenStep(index, None, end)


class IncrementalDecoder:
    """Turns token ids into text pieces, holding back a piece while it ends in half a UTF-8 character."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = ""

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        piece, self.emitted = text[len(self.emitted):], text
        return piece

    @property
    def text(self) -> str:
        return self.tokenizer.decode(self.ids, skip_special_tokens=True).strip()


@dataclass
class Clock:
    """Time to first token, total and throughput for one answer, measured from when its work began."""

    started: float
    first_token_at: float | None = None
    finished_at: float | None = None
    new_tokens: int = 0

    def token(self, at: float) -> None:
        self.new_tokens += 1
        if self.first_token_at is None:
            self.first_token_at = at

    def finish(self, at: float) -> None:
        self.finished_at = at

    @property
    def ttft_ms(self) -> float:
        return 1000 * ((self.first_token_at or self.finished_at or self.started) - self.started)

    @property
    def total_ms(self) -> float:
        return 1000 * ((self.finished_at or time.perf_counter()) - self.started)

    @property
    def tokens_per_s(self) -> float:
        seconds = self.total_ms / 1000
        return self.new_tokens / seconds if seconds > 0 else 0.0


@torch.inference_mode()
def baseline_generate(model, prompt_ids: list[int], sampling: Sampling, pad_id: int, eos_id: int,
                      adapter: str | None = None) -> tuple[list[int], float]:
    """transformers' own `generate`, one prompt at a time: the plain baseline the benchmark compares with."""
    ids = torch.tensor([prompt_ids])
    extra = _adapter_arguments(model, [Row(prompt_ids, adapter)])
    started = time.perf_counter()
    output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=sampling.max_new_tokens,
                            do_sample=False, eos_token_id=eos_id, pad_token_id=pad_id, **extra)
    new = output[0, ids.shape[1]:].tolist()
    if new and new[-1] == eos_id:
        new = new[:-1]
    return new, time.perf_counter() - started
