"""Hybrid retrieval: the FAISS dense ranking and the BM25 keyword ranking, fused by reciprocal rank.

Reciprocal rank fusion needs no score calibration between the two rankers: a chunk's fused score is
sum(1 / (RRF_K + rank)) over the rankings. Each hit keeps its cosine similarity as `score`, the figure a
reader can interpret, so the anatomy shows when the keyword ranking lifted a passage.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fourpaths.retrieval.corpus import Chunk
from fourpaths.retrieval.index import Hit, SearchIndex
from fourpaths.retrieval.keywords import KeywordIndex

RRF_K = 60  # the constant from the original reciprocal-rank-fusion paper; ranks beyond ~60 barely count


class HybridSearcher:
    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.keywords = KeywordIndex([chunk.text for chunk in index.chunks])
        self.positions = {(chunk.source, chunk.index): position for position, chunk in enumerate(index.chunks)}

    def search(self, query: str, k: int) -> list[Hit]:
        """The k best chunks, best first."""
        n = len(self.index)
        if k <= 0 or n == 0:
            return []
        dense = self.index.search(query, n)  # every chunk, by FAISS, best first
        return fuse(self.index.chunks, self.positions, dense, self.keywords.scores(query), k)


def fuse(chunks: Sequence[Chunk], positions: dict[tuple[str, int], int], dense: list[Hit],
         keyword_scores: np.ndarray, k: int) -> list[Hit]:
    """The k best of `chunks` by reciprocal rank fusion of the dense ranking (every chunk, best first) and the
    BM25 scores (one per chunk); each hit keeps its cosine."""
    cosine = {(hit.source, hit.chunk_index): hit.score for hit in dense}
    fused = np.zeros(len(chunks), dtype=np.float64)
    for rank, hit in enumerate(dense):
        fused[positions[(hit.source, hit.chunk_index)]] += 1 / (RRF_K + rank)
    for rank, position in enumerate(np.argsort(-keyword_scores, kind="stable")):
        if keyword_scores[position] <= 0:
            break  # chunks with no query word get no keyword vote
        fused[position] += 1 / (RRF_K + rank)
    best = np.argsort(-fused, kind="stable")[:k]
    return [Hit(chunks[p].source, chunks[p].index, chunks[p].text, cosine[(chunks[p].source, chunks[p].index)])
            for p in best]
