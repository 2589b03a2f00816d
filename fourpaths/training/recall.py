"""Closed-book recall: does a trained model answer its own training questions with the reference answer?"""

from __future__ import annotations

from fourpaths.training.base_data import ChatExample
from fourpaths.scoring import contains_answer
from fourpaths.training.generate_text import greedy_answer


def closed_book_recall(model, tokenizer, questions: list[ChatExample], limit: int | None = None) -> float:
    chosen = questions[:limit] if limit else questions
    hits = sum(contains_answer(greedy_answer(model, tokenizer, q.messages), q.expected) for q in chosen)
    return hits / max(1, len(chosen))
