"""BM25 keyword scoring over the index's chunks: the lexical half of hybrid retrieval.

Questions about a policy name, a product code or an amount share exact words with the passage that answers
them; a small sentence embedder can rank a near-synonym chunk above it (docs/design.md has the figures).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9£$€%]+")
# Words that carry no topic; BM25's idf would discount them anyway, this only keeps the postings short.
STOP_WORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its many much of on or per s "
    "the their there this to was we what when where which who why will with you your".split()
)
K1, B = 1.2, 0.75  # the usual BM25 constants


def words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]


class KeywordIndex:
    """BM25 over a fixed list of texts; scores() gives every text's score for a query."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.counts = [Counter(words(text)) for text in texts]
        lengths = np.array([sum(count.values()) for count in self.counts], dtype=np.float32)
        mean_length = float(lengths.mean()) if len(texts) else 0.0
        # BM25's length normalisation depends only on the text, so it is computed once here, not per query
        self.norms = K1 * (1 - B + B * lengths / max(mean_length, 1e-9))
        self.postings: dict[str, list[int]] = {}
        for position, count in enumerate(self.counts):
            for word in count:
                self.postings.setdefault(word, []).append(position)

    def idf(self, word: str) -> float:
        n, containing = len(self.counts), len(self.postings.get(word, ()))
        return math.log(1 + (n - containing + 0.5) / (containing + 0.5))

    def scores(self, query: str) -> np.ndarray:
        result = np.zeros(len(self.counts), dtype=np.float32)
        for word in set(words(query)):
            weight = self.idf(word)
            for position in self.postings.get(word, ()):
                frequency = self.counts[position][word]
                result[position] += weight * frequency * (K1 + 1) / (frequency + self.norms[position])
        return result
