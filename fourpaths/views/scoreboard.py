"""The Scoreboard page's data: the figures `fourpaths eval --all` wrote (results/eval.json), as tidy frames for a
chart and tables, one computed sentence on which path wins where, and re-measuring one question set in a
background thread, its figures merged into that file.

No streamlit here: the page lays the frames out; everything it shows comes from the results file or from
`fourpaths.measure.evaluation.evaluate` run by `start_rerun`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from fourpaths.answering.paths import SHORT_TITLES
from fourpaths.config import Settings, resolve_location, results_file
from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import EVAL_COMMAND, describe_split, join_names, load_eval_results
from fourpaths.retrieval.corpus import SPLIT_NOTES
from fourpaths.retrieval.files import write_json_atomically

PARTIAL = "eval-partial"  # results/eval-partial.json: re-runs on the first N questions of a set, kept apart
# What the table shows, with the label each is shown under.
METRICS = {"accuracy": "Accuracy", "strict": "Strict", "f1": "F1", "abstained": "Abstained",
           "p50_ms": "p50 ms", "p95_ms": "p95 ms"}
# What the accuracy chart can show: how often right on the sets that have an answer. Abstaining has a chart of
# its own, so a path that always says "I don't know" cannot look best on the unanswerable set.
RIGHT_METRICS = {"strict": "Strict", "accuracy": "Accuracy", "f1": "F1"}
ABSTAIN_WHEN = {"unanswerable": "no document answers (right)", "answerable": "a document answers (a miss)"}
OUTCOMES = ("all", "right", "wrong", "abstained", "error")
MEASURES = ("strict", "accuracy")  # what "right" means in the per-question table

_merge_lock = threading.Lock()  # two re-runs finishing together must not each write back a stale document


# ---------------------------------------------------------------------------
# Where the files are


def load(settings: Settings) -> dict:
    """results/eval.json; FourpathsError naming the command that makes it when it is missing or malformed."""
    doc = load_eval_results(results_file(settings, "eval"))
    for split, result in doc["splits"].items():
        if not isinstance(result, dict) or not isinstance(result.get("paths"), dict):
            raise FourpathsError(f"{results_file(settings, 'eval')}: question set {split!r} has no \"paths\" figures; "
                                 f"run `{EVAL_COMMAND}` to remake it")
    return doc


def question_sets(settings: Settings) -> list[str]:
    """The sets that can be re-measured: those the corpus has, in fourpaths.retrieval.corpus.SPLITS order."""
    from fourpaths.retrieval.corpus import SPLITS, question_file

    root = resolve_location(settings.corpus_root)
    return [split for split in SPLITS if question_file(root, split).is_file()]


def title(path_id: str) -> str:
    return SHORT_TITLES.get(path_id, path_id)


def split_title(split: str) -> str:
    """A question set's name for people (retrieval.corpus.SPLIT_TITLES); an unknown set keeps its id."""
    from fourpaths.retrieval.corpus import SPLIT_TITLES

    return SPLIT_TITLES.get(split, split)


def load_partial(settings: Settings) -> dict | None:
    """The partial re-runs (results/eval-partial.json); None when there are none or the file is unreadable."""
    try:
        return load_eval_results(results_file(settings, PARTIAL))
    except FourpathsError:
        return None


def is_tuning(split: str) -> bool:
    """dev: measured so a recipe can choose on it, so its figures are not results (no chart, no summary)."""
    from fourpaths.retrieval.corpus import TUNING_SPLITS

    return split in TUNING_SPLITS


def is_unanswerable(split: str, result: dict) -> bool:
    from fourpaths.retrieval.corpus import UNANSWERABLE_SPLITS

    return bool(result.get("unanswerable", split in UNANSWERABLE_SPLITS))


# ---------------------------------------------------------------------------
# Frames


def figures_frame(doc: dict) -> pd.DataFrame:
    """One row per (question set, path): n, every figure of METRICS, errors and when the set was measured."""
    rows = []
    for split, result in doc["splits"].items():
        measured = result.get("measured") or {}
        for path_id, figures in result["paths"].items():
            row = {"set": split_title(split), "path": title(path_id),
                   "n": result.get("n", len(result.get("items", [])))}
            row.update({label: figures.get(key) for key, label in METRICS.items()})
            row["errors"] = figures.get("errors")
            row["measured"] = measured.get("date") or doc.get("date")
            row["id"] = split
            rows.append(row)
    return pd.DataFrame(rows, columns=["set", "path", "n", *METRICS.values(), "errors", "measured", "id"])


def chart_frame(doc: dict, metric: str = "strict") -> pd.DataFrame:
    """How often each path is right on each set that has answers (the unanswerable set is abstention_frame's):
    one row per (set, path) with the set's name and id, for a grouped bar chart."""
    if metric not in RIGHT_METRICS:
        raise FourpathsError(f"unknown figure {metric!r}; choose one of: {', '.join(RIGHT_METRICS)}")
    rows = [{"set": split_title(split), "id": split, "path": title(path_id), "value": figures.get(metric)}
            for split, result in doc["splits"].items() if not is_unanswerable(split, result) and not is_tuning(split)
            for path_id, figures in result["paths"].items()]
    return pd.DataFrame(rows, columns=["set", "id", "path", "value"])


def abstention_frame(doc: dict) -> pd.DataFrame:
    """How often each path says it does not know: on the questions no document answers (right to) and, averaged
    over the sets that have answers, when one does (a miss). A path that always abstains is high on both."""
    answerable: dict[str, list[float]] = {}
    unanswerable: dict[str, list[float]] = {}
    for split, result in doc["splits"].items():
        if is_tuning(split):
            continue
        into = unanswerable if is_unanswerable(split, result) else answerable
        for path_id, figures in result["paths"].items():
            if figures.get("abstained") is not None:
                into.setdefault(path_id, []).append(figures["abstained"])
    rows = []
    for key, shares in (("unanswerable", unanswerable), ("answerable", answerable)):
        for path_id, values in shares.items():
            rows.append({"when": ABSTAIN_WHEN[key], "path": title(path_id),
                         "value": round(sum(values) / len(values), 4)})
    return pd.DataFrame(rows, columns=["when", "path", "value"])


def grouped_bars(frame: pd.DataFrame, group: str, value_label: str, tooltip_extra: Sequence[str] = ()):
    """A horizontal grouped bar chart (Altair) of a long frame: one group of bars per `group`, one bar per path,
    the figure to two decimals in the tooltip (with `tooltip_extra` columns, e.g. a set's id)."""
    import altair as alt

    order = list(dict.fromkeys(frame[group]))
    tooltip = [alt.Tooltip(f"{group}:N"), *[alt.Tooltip(f"{c}:N") for c in tooltip_extra], alt.Tooltip("path:N"),
               alt.Tooltip("value:Q", title=value_label, format=".2f")]
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("value:Q", title=value_label, scale=alt.Scale(domain=[0, 1])),
        y=alt.Y(f"{group}:N", title=None, sort=order, axis=alt.Axis(labelLimit=260)),
        yOffset=alt.YOffset("path:N", sort=list(SHORT_TITLES.values())),
        color=alt.Color("path:N", sort=list(SHORT_TITLES.values()), title="path"),
        tooltip=tooltip)


def partial_frame(partial: dict | None, full: dict | None) -> pd.DataFrame:
    """The partial re-runs beside the full sets: each labelled with its size ("first 5 of 135")."""
    rows = []
    for split, result in ((partial or {}).get("splits") or {}).items():
        whole = (((full or {}).get("splits") or {}).get(split) or {}).get("n")
        n = result.get("n")
        size = f"first {n} of {whole}" if whole and n and n < whole else f"first {n}"
        measured = (result.get("measured") or {}).get("date")
        for path_id, figures in (result.get("paths") or {}).items():
            rows.append({"set": split_title(split), "questions": size, "path": title(path_id),
                         **{RIGHT_METRICS[key]: figures.get(key) for key in RIGHT_METRICS},
                         "Abstained": figures.get("abstained"), "measured": measured, "id": split})
    return pd.DataFrame(rows, columns=["set", "questions", "path", *RIGHT_METRICS.values(), "Abstained", "measured",
                                       "id"])


def question_frame(doc: dict, split: str, paths: Sequence[str] | None = None, outcome: str = "all",
                   measure: str = "strict") -> pd.DataFrame:
    """One row per (question, path) of `split`: the question, the reference, the answer and how it was judged;
    only the `paths` given (ids), and only answers whose outcome is `outcome` (right or wrong by `measure`)."""
    if outcome not in OUTCOMES:
        raise FourpathsError(f"unknown outcome {outcome!r}; choose one of: {', '.join(OUTCOMES)}")
    if measure not in MEASURES:
        raise FourpathsError(f"unknown measure {measure!r}; choose one of: {', '.join(MEASURES)}")
    result = doc["splits"].get(split)
    if result is None:
        raise FourpathsError(f"no figures for question set {split!r}; measured: {', '.join(doc['splits'])}")
    rows = []
    for item in result.get("items", []):
        for path_id, score in item.get("scores", {}).items():
            if paths is not None and path_id not in paths:
                continue
            error = score.get("error")
            right = bool(score.get(measure)) and error is None
            kind = "error" if error else "right" if right else "wrong"
            if outcome == "abstained" and not score.get("abstained"):
                continue
            if outcome in ("right", "wrong", "error") and kind != outcome:
                continue
            rows.append({"id": item.get("id"), "question": item.get("question"), "reference": item.get("reference"),
                         "path": title(path_id), "answer": error or item.get("answers", {}).get(path_id, ""),
                         "right": right, "strict": bool(score.get("strict")), "accuracy": bool(score.get("accuracy")),
                         "f1": score.get("f1"), "abstained": bool(score.get("abstained")), "ms": score.get("ms")})
    return pd.DataFrame(rows, columns=["id", "question", "reference", "path", "answer", "right", "strict",
                                       "accuracy", "f1", "abstained", "ms"])


# ---------------------------------------------------------------------------
# In words


def summary_line(doc: dict) -> str:
    """One sentence, computed from the figures: which path is strictly right most often on each set, and which
    answers fastest."""
    parts = []
    for split, result in doc["splits"].items():
        paths = result["paths"]
        best = max((figures.get("strict") or 0.0 for figures in paths.values()), default=0.0)
        if is_unanswerable(split, result) or is_tuning(split):
            continue  # abstaining is its own chart: "always I don't know" is no win; dev is for choosing
        if best == 0:
            parts.append(f"none on {split_title(split)}")
            continue
        leaders = [title(p) for p, figures in paths.items() if (figures.get("strict") or 0.0) == best]
        parts.append(f"{join_names(leaders)} on {split_title(split)} ({best:.2f})")
    if not parts:
        return "No question set has been measured."
    sentence = "Strictly right most often: " + "; ".join(parts) + "."
    speeds: dict[str, list[float]] = {}
    for split, result in doc["splits"].items():
        if is_tuning(split):
            continue
        for path_id, figures in result["paths"].items():
            if figures.get("p50_ms"):
                speeds.setdefault(path_id, []).append(figures["p50_ms"])
    if speeds:
        fastest = min(speeds, key=lambda p: sum(speeds[p]) / len(speeds[p]))
        mean = sum(speeds[fastest]) / len(speeds[fastest])
        sentence += f" Fastest: {title(fastest)}, a median answer in {mean:.0f} ms"
        sentence += " averaged over the sets." if len(speeds[fastest]) > 1 else "."
    return sentence


def split_sentences(doc: dict) -> dict[str, str]:
    """describe_split for every set: the page shows them under the table."""
    return {split: describe_split(split, result) for split, result in doc["splits"].items()}


def split_note(split: str) -> str:
    return SPLIT_NOTES.get(split, "")


def provenance(doc: dict) -> str:
    """One line: when, on what commit and with what limit the document was measured."""
    from fourpaths.measure.results_doc import describe_machine

    first = f"Measured {doc['date']}" if doc.get("date") else "Date not recorded"
    if doc.get("machine"):
        first += f" on {describe_machine(doc['machine'])}"
    parts = [first]
    if doc.get("commit"):
        parts.append(f"commit {doc['commit'][:12]}" + (" with uncommitted changes" if doc.get("uncommitted_changes")
                                                       else ""))
    if doc.get("limit"):
        parts.append(f"first {doc['limit']} questions of each set")
    if doc.get("updated"):
        parts.append(f"sets re-measured since, last {doc['updated']}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# Re-measuring one question set, in the background


@dataclass
class Rerun:
    """One question set being re-measured on a thread of its own; the page reads these fields to draw progress."""

    split: str
    limit: int | None
    path: Path
    done: int = 0
    total: int = 0
    state: str = "starting"  # starting (loading models), running, done, failed
    error: str | None = None
    result: dict | None = None
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def progress(self, done: int, total: int) -> None:
        self.done, self.total, self.state = done, total, "running"

    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def wait(self, timeout: float | None = None) -> Rerun:
        if self.thread is not None:
            self.thread.join(timeout)
        return self


def start_rerun(settings: Settings, split: str, limit: int | None = None,
                path: str | Path | None = None) -> Rerun:
    """Re-measure `split` (its first `limit` questions) on a daemon thread, then merge its figures into a results
    file: by default results/eval.json for the whole set, and results/eval-partial.json for its first `limit`
    questions, so a partial run never replaces the full set's figures. Returns at once."""
    from fourpaths.retrieval.corpus import SPLITS

    if split not in SPLITS:
        raise FourpathsError(f"unknown question set {split!r}; choose one of: {', '.join(SPLITS)}")
    if limit is not None and limit < 1:
        raise FourpathsError(f"the number of questions must be at least 1, got {limit}")
    job = Rerun(split, limit, Path(path) if path else results_file(settings, PARTIAL if limit else "eval"))

    def work() -> None:
        try:
            from fourpaths.measure.evaluation import evaluate

            result = evaluate(split, settings, limit, progress=job.progress)
            job.seconds = round(time.perf_counter() - job.started, 1)
            merge_split(job.path, split, result, settings, limit, job.seconds)
            job.result, job.state = result, "done"
        except FourpathsError as error:
            job.error, job.state = str(error), "failed"
        except Exception as error:  # noqa: BLE001 - a thread's failure must reach the page, not vanish
            job.error, job.state = f"{type(error).__name__}: {error}", "failed"

    job.thread = threading.Thread(target=work, name=f"rerun-{split}", daemon=True)
    job.thread.start()
    return job


def merge_split(path: str | Path, split: str, result: dict, settings: Settings, limit: int | None,
                wall_s: float | None = None) -> Path:
    """Put one set's new figures into the results document at `path`, stamped with when, where and on what
    models they were measured; the other sets stay as they were. A missing or unreadable file starts afresh."""
    from dataclasses import replace

    from fourpaths.measure.evaluation import provenance

    settings = replace(settings, temperature=0.0)
    header = provenance(settings, resolve_location(settings.corpus_root))
    with _merge_lock:
        try:
            doc = load_eval_results(path)
        except FourpathsError:
            doc = {**header, "limit": limit, "path_ids": list(result.get("paths", {})), "splits": {}}
        stamped = dict(result)
        stamped["measured"] = {"date": header["date"], "limit": limit, "machine": header["machine"],
                               "commit": header["commit"], "uncommitted_changes": header["uncommitted_changes"],
                               "models": header["models"], "wall_s": wall_s}
        doc["splits"][split] = stamped
        doc["updated"] = header["date"]
        return write_json_atomically(doc, path)
