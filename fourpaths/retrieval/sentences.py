"""The sentences of a passage, as the RAG reader reads them one by one: split after . ! or ? before a space, and at
line breaks; lines of fewer than MIN_SENTENCE_WORDS words (headings, table fragments) are not sentences. The index
embeds each sentence of its chunks once, when it is built, so a question embeds only itself."""

from __future__ import annotations

import re
from typing import Iterable

MIN_SENTENCE_WORDS = 3  # shorter lines are headings and table fragments, not statements
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentence_spans(passage: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of at least MIN_SENTENCE_WORDS words."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(passage):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(passage)))
    return [(a, b) for a, b in spans if len(passage[a:b].split()) >= MIN_SENTENCE_WORDS]


def unique_sentences(passages: Iterable[str]) -> list[str]:
    """Each sentence of the passages once, in first-seen order (overlapping chunks repeat sentences)."""
    return list(dict.fromkeys(passage[a:b] for passage in passages for a, b in sentence_spans(passage)))
