"""Scoring the four paths against reference answers over a question set."""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Callable, Sequence

from fourpaths.ask import Trace, ask
from fourpaths.config import Settings
from fourpaths.corpus import load_questions
from fourpaths.paths import PATH_IDS
from fourpaths.scoring import CORRECT_WITHIN_WORDS, contains_answer, token_f1
from fourpaths.workspace import Workspace

def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def evaluate(split: str, settings: Settings, limit: int | None = None, path_ids: Sequence[str] = PATH_IDS,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Every question of `split` through every path, greedy; accuracy, F1, latency and retrieval hit@k."""
    settings = replace(settings, temperature=0.0)
    workspace = Workspace(settings)
    items = load_questions(workspace.corpus_root(), split)[:limit]
    scores = {path_id: {"correct": [], "f1": [], "total_ms": [], "errors": 0} for path_id in path_ids}
    hits = []
    for done, item in enumerate(items, start=1):
        results = ask(item.question, settings, path_ids, concurrent=True, workspace=workspace)
        for path_id in path_ids:
            _score_one(scores[path_id], results.get(path_id, "no answer"), item.answer)
        hits.append(item.source in _retrieved_sources(results.get("rag"), item.question, settings, workspace))
        if progress:
            progress(done, len(items))
    return {
        "split": split, "n": len(items),
        "paths": {path_id: _summarise(score) for path_id, score in scores.items()},
        "retrieval": {"k": settings.top_k_passages, "hit_at_k": round(sum(hits) / max(1, len(hits)), 4)},
    }


def _retrieved_sources(rag: Trace | str | None, question: str, settings: Settings, workspace: Workspace) -> set[str]:
    """The RAG answer already searched with this question and k; search only when RAG did not run."""
    if isinstance(rag, Trace):
        return {source.source for source in rag.sources}
    return {hit.source for hit in workspace.searcher().search(question, settings.top_k_passages)}


def _score_one(score: dict, result: Trace | str, reference: str) -> None:
    if isinstance(result, str):
        score["errors"] += 1
        score["correct"].append(False)
        score["f1"].append(0.0)
        return
    score["correct"].append(contains_answer(result.text, reference, CORRECT_WITHIN_WORDS))
    score["f1"].append(token_f1(result.text, reference))
    score["total_ms"].append(result.total_ms)


def _summarise(score: dict) -> dict:
    n = max(1, len(score["correct"]))
    return {
        "accuracy": round(sum(score["correct"]) / n, 4),
        "f1": round(sum(score["f1"]) / n, 4),
        "p50_ms": round(statistics.median(score["total_ms"]), 1) if score["total_ms"] else 0.0,
        "p95_ms": round(percentile(score["total_ms"], 0.95), 1),
        "errors": score["errors"],
    }
