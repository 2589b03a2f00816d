"""Preset questions for the app, drawn from the question sets, each labelled with what it demonstrates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fourpaths.retrieval.corpus import load_questions, question_file

# (split, how many, what the audience should notice)
_PLAN = (
    ("eval_unseen", 4, "arrived after training: only RAG can know"),
    ("eval_seen", 4, "in the training data, asked in new words"),
    ("train", 2, "asked exactly as in the training data"),
    ("eval_unanswerable", 2, "no document answers: the right reply is to say so"),
)


@dataclass(frozen=True)
class Preset:
    question: str
    answer: str
    source: str
    split: str
    note: str

    @property
    def label(self) -> str:
        return f"{self.question}  ({self.note})"


def preset_questions(corpus_root: Path) -> list[Preset]:
    """A spread across documents: every k-th question of each split, so presets cover different sources."""
    presets = []
    for split, count, note in _PLAN:
        if split == "eval_unanswerable" and not question_file(corpus_root, split).is_file():
            continue  # a corpus may have no unanswerable set; the answerable ones are required
        items = load_questions(corpus_root, split)
        step = max(1, len(items) // count)
        presets += [Preset(item.question, item.answer, item.source, split, note) for item in items[::step][:count]]
    return presets
