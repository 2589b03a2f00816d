"""How an answer is compared with its reference, everywhere in fourpaths (eval, recipes, tests, the pages).

Three judgements of one answer against one reference, from lenient to strict:
- `contains_answer`: the reference occurs, as whole words, in the answer's first 40 words (a long quote that
  happens to hold the value counts);
- `token_f1`: word overlap, as in SQuAD;
- `strict`: the reference occurs in an answer at most 3x its length, or the answer is at least half of the
  reference (a short answer that holds the value, or most of the value, and little else).
A question with no reference (corpus/qa/eval_unanswerable.jsonl) is answered correctly by abstaining:
`abstains` recognises the replies the four paths give when they do not know.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

CORRECT_WITHIN_WORDS = 40
STRICT_MAX_LENGTH_RATIO = 3  # an answer may be at most this many times the reference's length in words
STRICT_MIN_SHARE_OF_REFERENCE = 0.5  # an answer inside the reference must hold at least this share of its words
# Abstaining is judged on the start of an answer, so a long quote that mentions "do not know" deep inside
# is still an answer.
ABSTAIN_WITHIN_WORDS = 20

# The abstention replies of the four paths (RAG reader, LoRA answer head, prompt path) and close variants,
# written as they read after `normalise` (so "don't" is "don t"). None of them occurs in corpus/docs or
# corpus/updates (tests/test_scoring.py checks), so quoting a document never counts as abstaining.
_NOT = r"(?:do|does|did)(?: not| ?n ?t)"  # "do not", "doesn't" (normalised to "doesn t"), "didn t"
ABSTENTION_PATTERNS = (
    rf"\b{_NOT} answer (?:this|that|the|your)\b",  # "The documents do not answer this." (not "...answer it")
    r"\bnot taught\b",  # "I was not taught this."
    rf"\b{_NOT} know\b",  # "I don't know.", "I do not know"
    rf"\b{_NOT} (?:say|state|mention)\b",  # "The passages do not say."
    r"\bnot (?:in|found in|given in|mentioned in|stated in) the (?:documents?|passages?|context|text)\b",
    r"\b(?:cannot|can ?t|unable to) (?:answer|tell|say)\b",
    r"\bno answer\b",
    r"\bhave no (?:information|idea)\b",
)
_ABSTENTION = re.compile("|".join(ABSTENTION_PATTERNS))


def normalise(text: str) -> str:
    """Lowercase, punctuation removed, whitespace collapsed."""
    kept = "".join(ch.lower() if ch.isalnum() or ch.isspace() else " " for ch in text)
    return " ".join(kept.split())


def words(text: str) -> list[str]:
    """The answer's words as `normalise` sees them, with their case kept."""
    return "".join(ch if ch.isalnum() else " " for ch in text).split()


def contains_words(haystack: str, needle: str) -> bool:
    """`needle` occurs in `haystack` as whole words (both already normalised)."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def contains_answer(answer: str, reference: str, within_words: int = CORRECT_WITHIN_WORDS) -> bool:
    """Correct when the normalised reference occurs, as whole words, in the answer's first `within_words` words."""
    head = " ".join(normalise(answer).split()[:within_words])
    return contains_words(head, normalise(reference))


def strict(answer: str, reference: str) -> bool:
    """The reference occurs (whole words) in an answer at most 3x its length in words, or the non-empty answer
    occurs in the reference and holds at least half of the reference's words. False for an empty reference."""
    said, expected = normalise(answer), normalise(reference)
    said_words, expected_words = len(said.split()), len(expected.split())
    if not expected or not said:
        return False
    if said_words <= STRICT_MAX_LENGTH_RATIO * expected_words and contains_words(said, expected):
        return True
    return said_words >= STRICT_MIN_SHARE_OF_REFERENCE * expected_words and contains_words(expected, said)


def token_f1(answer: str, reference: str) -> float:
    predicted, expected = normalise(answer).split(), normalise(reference).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected or common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def abstains(text: str) -> bool:
    """True when the answer says the documents or the model do not know ("The documents do not answer this.",
    "I was not taught this.", "I don't know." and close variants)."""
    head = " ".join(normalise(text).split()[:ABSTAIN_WITHIN_WORDS])
    return bool(_ABSTENTION.search(head))


def vocabulary(texts: Iterable[str]) -> set[str]:
    """Every normalised word of `texts`: the known words `invented_entities` checks against."""
    known: set[str] = set()
    for text in texts:
        known.update(normalise(text).split())
    return known


def invented_entities(answer: str, question: str, known_words: Iterable[str]) -> list[str]:
    """Capitalised words of the answer (names, places, products) found neither in the question nor in
    `known_words` (compared lowercased), each once, in order. Single letters ("I", "A") are not names."""
    known = {word.lower() for word in known_words} | set(normalise(question).split())
    invented: list[str] = []
    for word in words(answer):
        if len(word) > 1 and word[0].isupper() and word.lower() not in known and word not in invented:
            invented.append(word)
    return invented
