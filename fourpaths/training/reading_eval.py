"""The base model's held-out reading test: generated like its training data, from seeds it never saw."""

from __future__ import annotations

import random

import torch

from fourpaths import prompts
from fourpaths.models import learnt_position_limit
from fourpaths.scoring import contains_answer
from fourpaths.training import base_data
from fourpaths.training.generate_text import greedy_answer
from fourpaths.training.loop import LoopSettings, answer_loss, pack_batch

HELD_OUT_OFFSET = 2_000_000_000
ANSWER_ROOM = 48  # new tokens the test lets an answer take


def score(model, tokenizer, seed: int, n_each: int, make_example=base_data.reading_example) -> dict[str, float]:
    """Shares of `n_each` held-out answerable questions answered, and of as many absent ones declined."""
    answered = abstained = copied = 0
    for good, missing in held_out_pairs(tokenizer, seed, n_each, learnt_position_limit(model.config), make_example):
        answered += contains_answer(greedy_answer(model, tokenizer, good.messages), good.expected)
        copied += completes_value(model, tokenizer, good)
        abstained += prompts.NOT_IN_PASSAGES.lower() in greedy_answer(model, tokenizer, missing.messages).lower()
    return {"answer_accuracy": answered / n_each, "abstain_accuracy": abstained / n_each,
            "value_copy_accuracy": copied / n_each, "reading_n": n_each}


def held_out_pairs(tokenizer, seed: int, n_each: int, position_limit: int | None,
                   make_example=base_data.reading_example):
    """`n_each` (answerable, absent) reading examples from seeds never trained on. A model with learnt
    positions (BERT: 512) skips a pair it could not read whole; training skips such rows too."""
    index = found = 0
    while found < n_each:
        rng = random.Random(f"held-out:{seed}:{index}")
        index += 1
        pair = make_example(rng, answerable=True), make_example(rng, answerable=False)
        if position_limit is None or all(prompt_length(tokenizer, e) + ANSWER_ROOM <= position_limit for e in pair):
            found += 1
            yield pair


def prompt_length(tokenizer, example) -> int:
    return len(prompts.render(tokenizer, example.messages)[1])


def completes_value(model, tokenizer, example) -> bool:
    """Given its own quote up to the value, does the model copy the value from the passage?

    This separates the two halves of reading: finding the line that answers, and copying from it. A model
    that scores here but not on whole answers copies but cannot find; one that scores nowhere cannot copy.
    """
    value_at = example.response.find(example.expected)
    quote_start = example.response[:max(0, value_at)].rstrip()
    completion = greedy_answer(model, tokenizer, example.messages, max_new_tokens=16, answer_start=quote_start)
    return contains_answer(completion, example.expected)


@torch.inference_mode()
def held_out_loss(model, stream, pad_id: int, settings: LoopSettings, batches: int = 4) -> float:
    """Loss on `batches` packed batches of `stream`, a stretch of the stage's data never trained on."""
    cursor, total = 0, 0.0
    for _ in range(batches):
        ids, labels, cursor = pack_batch(stream, cursor, settings, pad_id)
        total += float(answer_loss(model, ids, labels, pad_id))
    return round(total / batches, 4)
