"""Evidence sentences: the sentences of the retrieved passages a RAG quote may start at.

Why: the shipped base (5.2M parameters) reads poorly. Left to start its quote at any sentence of the top three
passages, it quotes one holding the answer for about a quarter of the questions, though one of those passages
holds it for nine in ten. The embedder that found the passages ranks their sentences far better, so the RAG
path lets it mark the evidence and the base quotes from there: a sentence-level rerank, as RAG systems do
with a cross-encoder, made here with the one embedder the project ships. The anatomy shows each sentence's
score, and `evidence_sentences = 0` gives the base the whole choice back, for comparison.

A sentence's score is its cosine similarity to the question, read with its chunk's "Title > Section" heading
(a sentence such as "It is 25 days." names no topic), plus KEYWORD_WEIGHT times the share of the question's
content words it holds: the same lexical signal hybrid retrieval adds to the dense ranking.

The search index embeds every chunk's sentences once, when it is built (`evidence_texts`), so ranking them at
question time costs only the question's embedding; a sentence the index lacks is embedded on the spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from fourpaths.keyword_search import words
from fourpaths.prompts import one_line
from fourpaths.quoting import Sentence, heading_length, sentence_spans

# Chosen on the train questions, never on the eval sets (see the README's RAG figures).
KEYWORD_WEIGHT = 0.5


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float

    def as_fact(self) -> dict[str, object]:
        return {"passage": self.sentence.passage, "score": round(self.score, 3), "sentence": self.sentence.text}


def rank_sentences(embed: Callable[[Sequence[str]], np.ndarray], question: str,
                   sentences: Sequence[Sentence]) -> list[ScoredSentence]:
    """The sentences, best evidence for `question` first. `embed` returns normalised vectors, one per text."""
    if not sentences:
        return []
    read = [sentence.reading for sentence in sentences]
    vectors = embed([question, *read])
    cosines = vectors[1:] @ vectors[0]
    asked = set(words(question))
    scored = [ScoredSentence(sentence, float(cosine) + KEYWORD_WEIGHT * _coverage(asked, text))
              for sentence, cosine, text in zip(sentences, cosines, read)]
    return sorted(scored, key=lambda item: -item.score)


def _coverage(asked: set[str], text: str) -> float:
    """The share of the question's content words that the text holds."""
    return len(asked & set(words(text))) / len(asked) if asked else 0.0


def evidence_texts(chunk_text: str) -> list[str]:
    """What the ranking reads for each sentence of a chunk, as the RAG prompt shows the chunk (on one line)."""
    text = one_line(chunk_text)
    heading = text[:heading_length(text)]
    return [f"{heading}{text[start:end].strip()}" for start, end in sentence_spans(text)]
