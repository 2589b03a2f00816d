"""How an answer is compared with its reference, everywhere in fourpaths (eval, recipes, tests)."""

from __future__ import annotations

from collections import Counter

CORRECT_WITHIN_WORDS = 40


def normalise(text: str) -> str:
    """Lowercase, punctuation removed, whitespace collapsed."""
    kept = "".join(ch.lower() if ch.isalnum() or ch.isspace() else " " for ch in text)
    return " ".join(kept.split())


def contains_answer(answer: str, reference: str, within_words: int = CORRECT_WITHIN_WORDS) -> bool:
    """Correct when the normalised reference occurs, as whole words, in the answer's first `within_words` words."""
    head = " ".join(normalise(answer).split()[:within_words])
    needle = normalise(reference)
    return bool(needle) and f" {needle} " in f" {head} "


def token_f1(answer: str, reference: str) -> float:
    predicted, expected = normalise(answer).split(), normalise(reference).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected or common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)
