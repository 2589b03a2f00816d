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

# What the chart and the table can show, with the label each is shown under.
METRICS = {"accuracy": "Accuracy", "strict": "Strict", "f1": "F1", "abstained": "Abstained",
           "p50_ms": "p50 ms", "p95_ms": "p95 ms"}
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


# ---------------------------------------------------------------------------
# Frames


def figures_frame(doc: dict) -> pd.DataFrame:
    """One row per (question set, path): n, every figure of METRICS, errors and when the set was measured."""
    rows = []
    for split, result in doc["splits"].items():
        measured = result.get("measured") or {}
        for path_id, figures in result["paths"].items():
            row = {"set": split, "path": title(path_id), "n": result.get("n", len(result.get("items", [])))}
            row.update({label: figures.get(key) for key, label in METRICS.items()})
            row["errors"] = figures.get("errors")
            row["measured"] = measured.get("date") or doc.get("date")
            rows.append(row)
    return pd.DataFrame(rows, columns=["set", "path", "n", *METRICS.values(), "errors", "measured"])


def chart_frame(doc: dict, metric: str = "accuracy") -> pd.DataFrame:
    """One metric, one row per question set and one column per path: a grouped bar chart as it stands."""
    if metric not in METRICS:
        raise FourpathsError(f"unknown figure {metric!r}; choose one of: {', '.join(METRICS)}")
    table = {split: {title(p): figures.get(metric) for p, figures in result["paths"].items()}
             for split, result in doc["splits"].items()}
    return pd.DataFrame.from_dict(table, orient="index").rename_axis("set")


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
        if best == 0:
            parts.append(f"none on {split}")
            continue
        leaders = [title(p) for p, figures in paths.items() if (figures.get("strict") or 0.0) == best]
        parts.append(f"{join_names(leaders)} on {split} ({best:.2f})")
    if not parts:
        return "No question set has been measured."
    sentence = "Strictly right most often: " + "; ".join(parts) + "."
    speeds: dict[str, list[float]] = {}
    for result in doc["splits"].values():
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
    """Re-measure `split` (its first `limit` questions) on a daemon thread, then merge its figures into the
    results file (default: this settings' results/eval.json). Returns at once."""
    from fourpaths.retrieval.corpus import SPLITS

    if split not in SPLITS:
        raise FourpathsError(f"unknown question set {split!r}; choose one of: {', '.join(SPLITS)}")
    if limit is not None and limit < 1:
        raise FourpathsError(f"the number of questions must be at least 1, got {limit}")
    job = Rerun(split, limit, Path(path) if path else results_file(settings, "eval"))

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
