"""The Tour: the story of the four paths in five steps a presenter clicks through. Each step is a live question
(from the question sets, or about a document added during the step), what to watch for in the columns, and a
one-line takeaway computed from the measured figures (results/eval.json, results/fresh.json and the Choose
page's ranking), never typed. No streamlit here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fourpaths.answering.paths import SHORT_TITLES
from fourpaths.config import Settings, results_file
from fourpaths.errors import FourpathsError
from fourpaths.retrieval.corpus import QAItem, load_questions, question_file
from fourpaths.views.scoreboard import split_title

# The document the fourth step adds live: fictional, like the corpus, and about nothing any model has seen.
LIVE_DOCUMENT_NAME = "bike-to-work-2027.md"
LIVE_DOCUMENT = """# Quillmoor bike-to-work scheme (2027)

From 1 March 2027, Quillmoor employees can lease an e-bike through the bike-to-work scheme. The monthly salary
deduction is £38 per bike, and each lease lasts 12 months. At the end of the lease the bike can be bought for £95.

## How to apply

Requests go to the facilities team at the Leeds office, who order the bike within 10 working days.
"""
LIVE_QUESTION = QAItem("tour-live", "What is the monthly salary deduction for the Quillmoor bike-to-work scheme?",
                       "£38 per bike", f"added/{LIVE_DOCUMENT_NAME}", "added during the Tour", 0)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    split: str | None  # the question set the question comes from; None: LIVE_QUESTION
    question_id: str | None
    look_for: str  # what the audience should watch in the columns


STEPS = (
    Step("knows", "What each path knows", "eval_seen", "hr-s-013",
         "A trained fact asked in new words. LoRA was taught it and RAG reads it; the prompt path's base has never "
         "seen Quillmoor and says so; the model trained from scratch writes fluent words, not the fact."),
    Step("changed", "A fact that changed after training", "eval_unseen", "upd-u-001",
         "The Loomwork price rose after the models were trained. LoRA answers the price it was taught; RAG reads "
         "the update and answers the new one."),
    Step("unanswerable", "A question no document answers", "eval_unanswerable", "na-q-005",
         "Nothing in the documents says this. The right answer is to say so: watch which paths do, and which "
         "invent."),
    Step("live", "Adding a document live", None, None,
         "A document no model has seen is added now. RAG can search it as soon as it is embedded; the others "
         "cannot know it."),
    Step("choose", "Choosing a path", "eval_seen", "hr-s-024",
         "Each path fails differently: LoRA knows what it was taught, RAG what it can find. The Choose a path "
         "page weighs that against a project's needs."),
)


def step_question(step: Step, corpus_root: str | Path) -> QAItem:
    """The step's question with its reference, from the question sets (or the live document's); a corpus
    without the chosen question gives its set's first one."""
    if step.split is None:
        return LIVE_QUESTION
    if not question_file(corpus_root, step.split).is_file():
        raise FourpathsError(f"this corpus has no {split_title(step.split)} ({step.split}): the step needs one")
    items = load_questions(corpus_root, step.split)
    return next((item for item in items if item.id == step.question_id), items[0])


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _strict(doc: dict | None, split: str) -> dict[str, float]:
    paths = (((doc or {}).get("splits") or {}).get(split) or {}).get("paths") or {}
    return {path_id: figures.get("strict") for path_id, figures in paths.items() if figures.get("strict") is not None}


def _figures(values: dict[str, float]) -> str:
    ranked = sorted(values.items(), key=lambda pair: -pair[1])
    return ", ".join(f"{SHORT_TITLES.get(p, p)} {v:.2f}" for p, v in ranked)


def takeaway(step: Step, settings: Settings) -> str:
    """The step's one line, from the measured figures; says which command makes them when they are missing."""
    doc = _load(results_file(settings, "eval"))

    def n(split: str) -> int | None:
        return (((doc or {}).get("splits") or {}).get(split) or {}).get("n")
    if step.key in ("knows", "changed"):
        figures = _strict(doc, step.split)
        if not figures:
            return "Not measured yet: `fourpaths eval --all` measures every path on every question set."
        return (f"Strictly right on {split_title(step.split)} ({n(step.split)} questions): {_figures(figures)}.")
    if step.key == "unanswerable":
        paths = ((((doc or {}).get("splits") or {}).get(step.split) or {}).get("paths")) or {}
        if not paths:
            return "Not measured yet: `fourpaths eval --all` measures every path on every question set."
        says = {p: f["abstained"] for p, f in paths.items() if f.get("abstained") is not None}
        line = f"Says it does not know when no document answers ({n(step.split)} questions): {_figures(says)}."
        always = [p for p, v in says.items() if v >= 1.0]
        answerable = {p: (((doc.get("splits") or {}).get("eval_seen") or {}).get("paths") or {}).get(p, {})
                      .get("abstained") for p in always}
        for path_id, share in answerable.items():
            if share is not None:
                line += (f" But {SHORT_TITLES.get(path_id, path_id)} says so on {share:.2f} of trained facts too: "
                         f"it never answers.")
        return line
    if step.key == "live":
        fresh = _load(results_file(settings, "fresh"))
        if not fresh:
            return "Not measured yet: `fourpaths fresh` measures what adding documents buys."
        before = ((fresh.get("before") or {}).get("rag") or {}).get("accuracy")
        after = ((fresh.get("after_adding") or {}).get("rag") or {}).get("accuracy")
        lora = ((fresh.get("before") or {}).get("lora") or {}).get("accuracy")
        line = (f"Measured on {len(fresh.get('documents') or [])} documents no model saw ({fresh.get('questions')} "
                f"questions): searchable {fresh.get('searchable_s_median', 0):.2f} s after adding (median)")
        if before is not None and after is not None:
            line += f"; RAG right on {before:.2f} of them before, {after:.2f} after"
        if lora is not None:
            line += f"; LoRA {lora:.2f} until it is taught"
        return line + "."
    return choose_takeaway(settings)


FACTOR_WORDS = {"accuracy": "accuracy", "examples": "labelled examples", "expertise": "ML expertise",
                "compute": "compute", "change": "knowledge changes"}


def choose_takeaway(settings: Settings) -> str:
    """The Choose page's first path for its default needs, with the figure behind it."""
    from fourpaths.views import decision

    needs = decision.Needs()
    evidence = decision.gather_evidence(settings)
    ranking = decision.recommend(needs, evidence)
    described = "; ".join(f"{FACTOR_WORDS[name]}: {needs.label(name)}" for name in decision.FACTORS)
    first = ranking[0]
    line = f"Choose a path, for its default team ({described}): {decision.headline(ranking, needs)}"
    measured = evidence.strict(decision.judged_split(needs), first.candidate)
    if measured is not None and not first.fails:
        line += (f" It is strictly right on {measured:.2f} of "
                 f"{split_title(decision.judged_split(needs))}.")
    return line
