"""The recipes' own measurements by generation: greedy answers through the engine, as the app would give them."""

from __future__ import annotations

from typing import Sequence

from fourpaths.answering.engine import Decoding, Generator, generate, render
from fourpaths.measure.scoring import contains_answer
from fourpaths.training.base_data import ChatExample

ANSWER_ROOM = 48  # new tokens an answer may take


def greedy_answer(generator: Generator, messages: Sequence[dict[str, str]], max_new_tokens: int = ANSWER_ROOM) -> str:
    _, ids = render(generator, messages, max_new_tokens, check_length=False)  # measured as it is, however long
    return generate(generator, ids, Decoding(max_new_tokens=max_new_tokens)).text


def closed_book_recall(generator: Generator, questions: list[ChatExample]) -> float:
    """Share of `questions` whose greedy answer contains the reference answer."""
    hits = sum(contains_answer(greedy_answer(generator, q.messages), q.expected) for q in questions)
    return hits / max(1, len(questions))
