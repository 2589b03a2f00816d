"""`fourpaths fresh`: what adding documents and teaching the adapter buy, measured on documents no shipped model
saw (tests/data/fresh/ by default: a few documents and questions.jsonl with each answer and its document).

For each question: RAG and LoRA before anything is added (what the shipped models know), RAG after the
documents are added (the Fresh knowledge page's overlay, nothing written to index/), and, given a teaching
budget, LoRA after teaching it pairs proposed from the documents, as the page would.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

from fourpaths.answering.pipeline import ask
from fourpaths.answering.workspace import Workspace
from fourpaths.config import PROJECT_ROOT, Settings
from fourpaths.errors import FourpathsError
from fourpaths.fresh.overlay import Overlay, add_document_file
from fourpaths.fresh.proposals import propose_pairs
from fourpaths.measure.evaluation import provenance, score_answer
from fourpaths.retrieval.corpus import iter_question_lines, parse_question_line

DEFAULT_DOCUMENTS = PROJECT_ROOT / "tests" / "data" / "fresh"
QUESTIONS_FILE = "questions.jsonl"


def _questions(folder: Path):
    path = folder / QUESTIONS_FILE
    if not path.is_file():
        raise FourpathsError(f"{path}: question file not found")
    return [parse_question_line(raw, "fresh", number) for number, raw in iter_question_lines(path)]


def _scores(settings: Settings, workspace: Workspace, items, path_id: str) -> dict:
    outcomes, cited = [], 0
    for item in items:
        result = ask(item.question, settings, [path_id], workspace=workspace)[path_id]
        outcomes.append(score_answer(result, item))
        sources = getattr(result, "sources", None) or []
        cited += bool(sources) and sources[0].source == item.source
    n = max(1, len(items))
    figures = {"accuracy": round(sum(o.accuracy for o in outcomes) / n, 4),
               "strict": round(sum(o.strict for o in outcomes) / n, 4),
               "abstained": round(sum(o.abstained for o in outcomes) / n, 4),
               "errors": sum(o.error is not None for o in outcomes)}
    if path_id == "rag":
        figures["first_passage_from_the_right_document"] = round(cited / n, 4)
    return figures


def measure_fresh(settings: Settings, folder: str | Path = DEFAULT_DOCUMENTS, teach_seconds: float = 0.0,
                  progress: Callable[[str], None] | None = None) -> dict:
    folder = Path(folder)
    documents = sorted(path for path in folder.glob("*") if path.suffix in (".md", ".txt") and path.name != "README.md")
    if not documents:
        raise FourpathsError(f"{folder}: no .md or .txt documents")
    items = _questions(folder)
    say = progress or (lambda _: None)
    shipped = Workspace(settings)
    say(f"before: {len(items)} questions on the shipped models")
    result: dict = {**provenance(settings, folder), "documents": [], "questions": len(items),
                    "before": {path_id: _scores(settings, shipped, items, path_id) for path_id in ("rag", "lora")}}
    overlay = Overlay(settings)
    try:
        for path in documents:
            say(f"adding {path.name}")
            added = add_document_file(overlay, path)
            started = time.perf_counter()
            overlay.searcher(shipped.index(), hybrid=settings.retrieval != "dense")  # built on first search
            result["documents"].append({"name": path.name, "words": len(added.document.text.split()),
                                        "chunks": len(added.chunks),
                                        "searchable_s": round(added.seconds + time.perf_counter() - started, 3)})
        fresh = Workspace(settings, overlay=overlay)
        say("after adding: RAG")
        result["after_adding"] = {"rag": _scores(settings, fresh, items, "rag")}
        if teach_seconds > 0:
            pairs = [pair for added in overlay.documents() for pair in propose_pairs(added.document)]
            say(f"teaching {len(pairs[:50])} proposed pairs for {teach_seconds:.0f} s")
            report = overlay.teach(pairs[:50], budget_s=teach_seconds)
            # the budget counts the training steps; preparing and measuring are timed apart
            result["teaching"] = {"pairs": report.pairs, "steps": report.steps, "seconds": report.seconds,
                                  "budget_s": teach_seconds, "train_seconds": report.train_seconds,
                                  "prepare_seconds": report.prepare_seconds,
                                  "measure_seconds": report.measure_seconds, "recall_on_taught_pairs": report.recall,
                                  "reworded_accuracy": report.reworded_accuracy,
                                  "shipped_recall_after": report.shipped_recall}
            say("after teaching: LoRA")
            result["after_teaching"] = {"lora": _scores(settings, Workspace(settings, overlay=overlay), items,
                                                        "lora")}
    finally:
        overlay.reset()
    result["searchable_s_median"] = round(statistics.median(d["searchable_s"] for d in result["documents"]), 3)
    return result


def write_fresh(doc: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path
