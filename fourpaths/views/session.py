"""What a presenter's session has asked on the Compare page and the Tour: each question with the settings it was
asked under, every path's answer, and each answer marked against the question's reference when the question
sets know it, by the Scoreboard's own scoring (fourpaths.evaluation.score_answer).

Answers are kept per question and settings: asking again under other settings adds a row beside the first,
asking again under the same ones replaces it. No streamlit here: the pages keep a History in their session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import pandas as pd

from fourpaths.answering.paths import SHORT_TITLES
from fourpaths.config import Settings
from fourpaths.retrieval.corpus import QAItem, normalise_for_match
from fourpaths.types import Trace

# The marks, from best to worst; the symbol leads the label so a row of them reads at a glance.
RIGHT, PARTLY, WRONG, ABSTAINED, ERROR = "right", "partly right", "wrong", "abstained", "error"
SYMBOLS = {RIGHT: "✓", PARTLY: "◐", WRONG: "✗", ABSTAINED: "○", ERROR: "⚠"}
COLOURS = {RIGHT: "green", PARTLY: "orange", WRONG: "red", ABSTAINED: "gray", ERROR: "red"}
MARKS_MEANING = ("Right: the reference in a short answer (the Scoreboard's strict). Partly right: the reference "
                 "within the first 40 words, in a longer answer (its accuracy). Abstained: says it does not know, "
                 "which is right only when no document answers.")


@dataclass(frozen=True)
class Mark:
    """One answer judged against its question's reference."""

    state: str  # RIGHT, PARTLY, WRONG, ABSTAINED, ERROR
    correct: bool  # what the Scoreboard counts as right (strict; abstaining on an unanswerable question)
    why: str

    @property
    def symbol(self) -> str:
        return SYMBOLS[RIGHT] if self.correct else SYMBOLS[self.state]  # abstaining when nothing answers: right

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.state}"

    @property
    def colour(self) -> str:
        return COLOURS[RIGHT] if self.correct else COLOURS[self.state]


def mark(result: Trace | str, reference: QAItem) -> Mark:
    """Judge one path's answer (a Trace, or its error message) as `fourpaths eval` does."""
    from fourpaths.measure.evaluation import score_answer

    outcome = score_answer(result, reference)
    if outcome.error is not None:
        return Mark(ERROR, False, "the path failed")
    if not reference.answer.strip():
        if outcome.abstained:
            return Mark(ABSTAINED, True, "no document answers this: abstaining is right")
        return Mark(WRONG, False, "no document answers this, yet it answered")
    if outcome.abstained:
        return Mark(ABSTAINED, False, "the documents answer this; it said it does not know")
    if outcome.strict:
        return Mark(RIGHT, True, "the reference, in a short answer")
    if outcome.accuracy:
        return Mark(PARTLY, False, "the reference is there, in a longer answer")
    return Mark(WRONG, False, "the reference is not in the answer")


@lru_cache(maxsize=8)
def _questions_by_text(corpus_root: str) -> dict[str, QAItem]:
    from fourpaths.retrieval.corpus import SPLITS, load_questions, question_file

    known: dict[str, QAItem] = {}
    for split in SPLITS:
        if question_file(corpus_root, split).is_file():
            for item in load_questions(corpus_root, split):
                known.setdefault(normalise_for_match(item.question), item)
    return known


def reference_for(corpus_root: str | Path, question: str) -> QAItem | None:
    """The question sets' item for this question (same words, case and spacing aside), or None."""
    return _questions_by_text(str(corpus_root)).get(normalise_for_match(question))


# The settings that change an answer, as a short label: what a history row was asked under.
def settings_label(settings: Settings) -> str:
    decoding = "greedy" if settings.temperature == 0 else f"sampled at {settings.temperature:g}, seed {settings.seed}"
    return (f"{settings.template} · {decoding} · {settings.max_new_tokens} new tokens · top {settings.top_k_passages} "
            f"{settings.retrieval} · RAG {settings.rag_answer}")


@dataclass
class Asked:
    """One question asked under one set of settings, and what every path answered."""

    question: str
    settings: str  # settings_label
    results: dict[str, Trace | str]  # path id -> Trace, or its error message
    wall_ms: float
    reference: QAItem | None = None
    asked_at: str = field(default_factory=lambda: time.strftime("%H:%M:%S"))
    documents_added: tuple[str, ...] = ()  # the session's added documents RAG searched as well

    @property
    def key(self) -> tuple:
        return self.question, self.settings, self.documents_added

    def marks(self) -> dict[str, Mark]:
        if self.reference is None:
            return {}
        return {path_id: mark(result, self.reference) for path_id, result in self.results.items()}

    def traces(self) -> dict[str, Trace]:
        return {path_id: r for path_id, r in self.results.items() if isinstance(r, Trace)}


class History:
    """A session's questions, newest last; one entry per question and settings."""

    def __init__(self) -> None:
        self.entries: list[Asked] = []

    def add(self, asked: Asked) -> Asked:
        self.entries = [entry for entry in self.entries if entry.key != asked.key] + [asked]
        return asked

    def clear(self) -> None:
        self.entries = []

    @property
    def latest(self) -> Asked | None:
        return self.entries[-1] if self.entries else None

    def __len__(self) -> int:
        return len(self.entries)


def history_frame(entries: list[Asked], path_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One compact row per question and settings: the question, the settings, and each path's mark and answer."""
    titles = dict(path_ids or SHORT_TITLES)
    rows = []
    for number, asked in enumerate(entries, start=1):
        marks = asked.marks()
        row = {"#": number, "asked": asked.asked_at, "question": asked.question, "settings": asked.settings}
        for path_id, title in titles.items():
            result = asked.results.get(path_id)
            if result is None:
                row[title] = ""
                continue
            text = result.text if isinstance(result, Trace) else f"error: {result}"
            symbol = f"{marks[path_id].symbol} " if path_id in marks else ""
            row[title] = symbol + text
        rows.append(row)
    return pd.DataFrame(rows, columns=["#", "asked", "question", "settings", *titles.values()])
