"""docs/results.md, regenerated from the files the project's own commands write (`fourpaths results`):

    fourpaths eval --all --json --output results/eval.json    answers: accuracy, strict, F1, abstained, latency
    fourpaths bench --repeats 3 --json --output results/bench.json   speed and memory, each figure beside its baseline

Also reads those files for the pages, with one clear message when a file is missing or malformed. Light on
purpose: no torch, no models, so a page or the CLI can render results at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from fourpaths.answering.paths import SHORT_TITLES
from fourpaths.config import PROJECT_ROOT
from fourpaths.errors import FourpathsError
from fourpaths.retrieval.corpus import SPLIT_NOTES, TUNING_SPLITS
from fourpaths.retrieval.files import write_text_atomically

EVAL_COMMAND = "fourpaths eval --all --json --output results/eval.json"
BENCH_COMMAND = "fourpaths bench --repeats 3 --json --output results/bench.json"
FRESH_COMMAND = "fourpaths fresh --teach-seconds 120 --json --output results/fresh.json"
REAL_COMMAND = "fourpaths fresh --documents tests/data/real --teach-seconds 0 --json --output results/fresh_real.json"
RESULTS_COMMAND = "fourpaths results"

_PROVENANCE = ("date", "machine", "commit", "uncommitted_changes")
_DASH = "–"


# ---------------------------------------------------------------------------
# Reading and writing the files


def load_eval_results(path: str | Path) -> dict:
    """The document `fourpaths eval --all` wrote; FourpathsError saying how to make it when missing or malformed."""
    doc = _load(Path(path), EVAL_COMMAND)
    if not isinstance(doc.get("splits"), dict):
        raise FourpathsError(f"{path}: no \"splits\" object, not a `fourpaths eval --all` file; run `{EVAL_COMMAND}`")
    return doc


def load_bench_results(path: str | Path) -> dict:
    """The document `fourpaths bench --json` wrote; FourpathsError saying how to make it when missing or malformed."""
    return _load(Path(path), BENCH_COMMAND)


def load_fresh_results(path: str | Path) -> dict:
    doc = _load(Path(path), FRESH_COMMAND)
    if not isinstance(doc.get("documents"), list) or not isinstance(doc.get("before"), dict):
        raise FourpathsError(f"{path}: not a `fourpaths fresh` result; run `{FRESH_COMMAND}`")
    return doc


def _load(path: Path, command: str) -> dict:
    if not path.is_file():
        raise FourpathsError(f"{path}: not found; run `{command}`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FourpathsError(f"{path}: not a text file; run `{command}` to remake it") from None
    except json.JSONDecodeError as error:
        message = f"{path}: not valid JSON ({error.msg}, line {error.lineno}); run `{command}` to remake it"
        raise FourpathsError(message) from None
    if not isinstance(doc, dict):
        raise FourpathsError(f"{path}: expected a JSON object; run `{command}` to remake it")
    return doc


def write_results_doc(eval_path: str | Path, bench_path: str | Path, out_path: str | Path,
                      fresh_path: str | Path, real_path: str | Path | None = None) -> Path:
    """Render docs/results.md from the results files; a missing or malformed file becomes a line saying so."""
    documents, notes = {}, {}
    for name, load, path in (("eval", load_eval_results, eval_path), ("bench", load_bench_results, bench_path),
                             ("fresh", load_fresh_results, fresh_path), ("real", load_fresh_results, real_path)):
        try:
            documents[name] = load(path) if path is not None else None
        except FourpathsError as error:
            documents[name], notes[name] = None, f"Not measured yet: {relative_message(error)}."
    text = render_results(documents["eval"], documents["bench"], documents["fresh"], eval_note=notes.get("eval"),
                          bench_note=notes.get("bench"), fresh_note=notes.get("fresh"), real_doc=documents["real"],
                          real_note=notes.get("real"))
    return write_text_atomically(text, out_path)


def _fresh_section(doc: dict | None, note: str | None, title: str = "Fresh knowledge",
                   command: str = FRESH_COMMAND, about: str = "") -> list[str]:
    """Documents no shipped model saw: how soon they are searchable, and each path's scores before adding them,
    after adding them, and after teaching."""
    lines = [f"## {title}", "", *([about, ""] if about else []), *_commands(command, RESULTS_COMMAND)]
    if doc is None:
        return lines + [note or f"Not measured yet: run `{command}`.", ""]
    lines += _provenance(doc) + [""]
    lines += ["| Document | Words | Passages | Searchable after (s) |", "|---|---|---|---|"]
    lines += [f"| {d['name']} | {d['words']} | {d['chunks']} | {d['searchable_s']:.2f} |" for d in doc["documents"]]
    lines += ["", f"On {doc['questions']} questions about these documents:", "",
              "| Stage | Path | Accuracy | Strict | Abstained |", "|---|---|---|---|---|"]
    for stage in ("before", "after_adding", "after_teaching"):
        for path_id, s in doc.get(stage, {}).items():
            lines.append(f"| {stage.replace('_', ' ')} | {path_id} | {s['accuracy']:.2f} | {s['strict']:.2f} | "
                         f"{s['abstained']:.2f} |")
    teaching = doc.get("teaching")
    if teaching:
        lines += ["", f"Teaching: {teaching['pairs']} proposed pairs, {teaching['steps']} steps in "
                      f"{teaching['seconds']:.0f} s (budget {teaching['budget_s']:.0f} s); recall on the taught pairs "
                      f"{teaching['recall_on_taught_pairs']:.2f}, on rewordings {teaching['reworded_accuracy']:.2f}; "
                      f"the shipped training questions still answered {teaching['shipped_recall_after']:.2f}."]
    return lines + [""]


def relative_message(error: Exception) -> str:
    """The message with the project's own folder left out of paths, so the page reads the same on any machine."""
    return str(error).replace(f"{PROJECT_ROOT}{os.sep}", "")


# ---------------------------------------------------------------------------
# Rendering


def render_results(eval_doc: dict | None, bench_doc: dict | None, fresh_doc: dict | None = None, *,
                   eval_note: str | None = None, bench_note: str | None = None, fresh_note: str | None = None,
                   real_doc: dict | None = None, real_note: str | None = None) -> str:
    """docs/results.md as markdown: per question set a table of the four paths, the bench figures, then what
    fresh documents and teaching bought."""
    lines = ["# Results", "",
             "Every figure here comes from a file that the project's own commands write; after measuring again,",
             f"regenerate this page with `{RESULTS_COMMAND}`.", "",
             "## Answers", "", *_commands(EVAL_COMMAND, RESULTS_COMMAND)]
    if eval_doc is None:
        lines += [eval_note or f"Not measured yet: run `{EVAL_COMMAND}`, then `{RESULTS_COMMAND}`.", ""]
    else:
        lines += _eval_section(eval_doc)
    lines += ["## Speed and memory", "", *_commands(BENCH_COMMAND, RESULTS_COMMAND)]
    if bench_doc is None:
        lines += [bench_note or f"Not measured yet: run `{BENCH_COMMAND}`, then `{RESULTS_COMMAND}`.", ""]
    else:
        lines += _bench_section(bench_doc)
    lines += _fresh_section(fresh_doc, fresh_note)
    if real_doc is not None or real_note is not None:
        lines += _fresh_section(real_doc, real_note, "Real documents added live", REAL_COMMAND,
                                "Public documents of a kind the corpus does not hold (three software licences, "
                                "tests/data/real/README.md), with questions written by hand.")
    return "\n".join(lines).rstrip("\n") + "\n"


def _commands(*commands: str) -> list[str]:
    return ["Reproduce:", "", "```bash", *commands, "```", ""]


def _provenance(doc: dict) -> list[str]:
    lines = []
    if "date" in doc:
        lines.append(f"- Date: {doc['date']}")
    if "machine" in doc:
        lines.append(f"- Machine: {describe_machine(doc['machine'])}")
    if "commit" in doc:
        commit = doc["commit"]
        text = f"`{commit[:12]}`" if commit else "not recorded (not a git checkout)"
        if doc.get("uncommitted_changes"):
            text += " with uncommitted changes"
        lines.append(f"- Commit: {text}")
    return lines


def describe_machine(machine: object) -> str:
    """One line: processor, cores, memory, platform, torch and its threads, accelerator."""
    if not isinstance(machine, dict):
        return str(machine)
    parts = [str(machine[key]) for key in ("processor",) if machine.get(key)]
    if machine.get("cpu_count"):
        parts.append(f"{machine['cpu_count']} CPUs")
    if machine.get("memory_gb"):
        parts.append(f"{machine['memory_gb']} GB memory")
    if machine.get("accelerator"):
        parts.append(str(machine["accelerator"]))
    if machine.get("platform"):
        parts.append(str(machine["platform"]))
    if machine.get("torch"):
        threads = f" on {machine['torch_threads']} threads" if machine.get("torch_threads") else ""
        parts.append(f"torch {machine['torch']}{threads}")
    return ", ".join(parts) or _DASH


def _eval_section(doc: dict) -> list[str]:
    lines = _provenance(doc)
    if doc.get("limit"):
        lines.append(f"- Only the first {doc['limit']} questions of each set (`--limit {doc['limit']}`)")
    if doc.get("wall_s") is not None:
        lines.append(f"- Wall time: {_number(doc['wall_s'] / 60, 1)} min")
    lines += ["",
              "Accuracy: the reference occurs, as whole words, in the answer's first 40 words. Strict: the reference",
              "occurs in an answer at most 3x its length, or the answer is at least half of the reference. F1: word",
              "overlap with the reference. Abstained: the share of answers that say the documents or the model do",
              "not know. On questions no document answers, abstaining is the correct answer. p50/p95: time from",
              "question to whole answer, four paths asked at once, greedy decoding.", ""]
    tuning = [split for split in doc["splits"] if split in TUNING_SPLITS]
    for split, result in doc["splits"].items():
        if split not in tuning:
            lines += _split_section(split, result)
    if tuning:  # what the recipes choose on is measured, never reported
        lines += [f"{' and '.join(tuning)}: measured in the results file for the recipes' choices, not reported here.",
                  ""]
    models = doc.get("models")
    if isinstance(models, dict) and models:
        lines += ["### Models", "", "| Setting | Location | Weights hash |", "|---|---|---|"]
        for setting, identity in models.items():
            identity = identity if isinstance(identity, dict) else {"location": identity}
            location = identity.get("location") or "(default)"
            lines.append(f"| {setting} | `{location}` | {_code(identity.get('hash'))} |")
        lines.append("")
    settings = doc.get("settings")
    if isinstance(settings, dict) and settings:
        pairs = ", ".join(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
                          for key, value in settings.items())
        lines += ["### Settings", "", pairs, ""]
    return lines


def _split_section(split: str, result: dict) -> list[str]:
    n = result.get("n", len(result.get("items", [])))
    note = SPLIT_NOTES.get(split)
    heading = f"### {split}: {note} ({n} questions)" if note else f"### {split} ({n} questions)"
    paths = result.get("paths", {})
    invented = any("invented_entity_share" in figures for figures in paths.values())
    header = ["Path", "Accuracy", "Strict", "F1", "Abstained", "p50 ms", "p95 ms", "Errors"]
    if invented:
        header.append("Invented names")
    lines = [heading, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for path_id, figures in paths.items():
        cells = [SHORT_TITLES.get(path_id, path_id)]
        cells += [_number(figures.get(key), 3) for key in ("accuracy", "strict", "f1", "abstained")]
        cells += [_number(figures.get(key), 0) for key in ("p50_ms", "p95_ms")]
        cells.append(_number(figures.get("errors"), 0))
        if invented:
            cells.append(_number(figures.get("invented_entity_share"), 3))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += _groups_table(result.get("groups") or {}, list(paths))
    retrieval = result.get("retrieval") or {}
    if retrieval.get("hit_at_k") is not None:
        lines.append(f"Retrieval: the cited document is among the top {retrieval.get('k')} passages for "
                     f"{_number(retrieval['hit_at_k'], 3)} of the questions (hit@{retrieval.get('k')}).")
        lines.append("")
    if invented:
        lines += ["Invented names: the share of answers naming a capitalised word found neither in the question, "
                  "nor in the training data (corpus/docs and train.jsonl), nor in the model's prompt.", ""]
    lines += [describe_split(split, result), ""]
    return lines


_GROUP_NOTES = {"docs": "facts from docs/", "docs-trained": "of them, facts train.jsonl teaches",
                "updates": "facts only in updates/", "none": "no document answers (right: abstaining)"}


def _groups_table(groups: dict, path_ids: list[str]) -> list[str]:
    """A hand-written set's strict figures per kind of question."""
    if not groups:
        return []
    lines = ["| Kind of question | n | " + " | ".join(SHORT_TITLES.get(p, p) for p in path_ids) + " |",
             "|" + "---|" * (len(path_ids) + 2)]
    for group, figures in groups.items():
        cells = [_number(figures["paths"].get(p, {}).get("strict"), 3) for p in path_ids]
        lines.append(f"| {_GROUP_NOTES.get(group, group)} | {figures.get('n', '')} | " + " | ".join(cells) + " |")
    return lines + ["", "Strict, per kind of question.", ""]


def describe_split(split: str, result: dict) -> str:
    """One sentence, computed from the figures, on which path wins this set."""
    paths = result.get("paths") or {}
    if not paths:
        return f"No path was measured on {split}."
    unanswerable = result.get("unanswerable", split == "eval_unanswerable")
    ranked = sorted(paths.items(), key=lambda pair: -(pair[1].get("strict") or 0.0))
    best = ranked[0][1].get("strict") or 0.0
    if best == 0:
        return f"No path {'abstains' if unanswerable else 'answers strictly correctly'} on {split}."
    leaders = [SHORT_TITLES.get(p, p) for p, figures in ranked if (figures.get("strict") or 0.0) == best]
    rest = [f"{SHORT_TITLES.get(p, p)} {_number(figures.get('strict'), 2)}" for p, figures in ranked
            if (figures.get("strict") or 0.0) != best]
    verb = "abstains most often" if unanswerable else "is strictly right most often"
    if len(leaders) > 1:
        verb = "abstain most often" if unanswerable else "are strictly right most often"
    sentence = f"On {split}, {join_names(leaders)} {verb} ({_number(best, 2)})"
    return sentence + (f"; then {', '.join(rest)}." if rest else ".")


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _bench_section(doc: dict) -> list[str]:
    """The bench figures, whatever their keys: scalars in one table, each beside its baseline, and a table per
    object of objects (such as "paths"), its columns paired the same way."""
    lines = _provenance(doc)
    if lines:
        lines.append("")
    scalars = {key: value for key, value in doc.items() if key not in _PROVENANCE and not isinstance(value, dict)}
    named = doc.get("baselines") if isinstance(doc.get("baselines"), dict) else {}
    rows = []
    for key, baseline_key in _paired(scalars):
        value = scalars[key]
        baseline = named.get(key, scalars.get(baseline_key) if baseline_key else None)
        rows.append(f"| {_label(key)} | {_value(value)} | {_value(baseline)} |")
    if rows:
        lines += ["| Figure | Value | Baseline |", "|---|---|---|", *rows, ""]
    for key, value in doc.items():
        if key in _PROVENANCE or key == "baselines" or not isinstance(value, dict) or not value:
            continue
        lines += _object_table(key, value)
    return lines


def _is_baseline(key: str) -> bool:
    return key.startswith("baseline_") or key.endswith("_baseline")


def _paired(keys: Iterable[str]) -> list[tuple[str, str | None]]:
    """Each figure with the key of its baseline ("baseline_<key>" or "<key>_baseline"), in order; a baseline
    that pairs with no figure stands as a figure of its own."""
    keys = list(keys)
    pairs, used = [], set()
    for key in keys:
        if _is_baseline(key):
            continue
        partner = next((k for k in (f"baseline_{key}", f"{key}_baseline") if k in keys), None)
        pairs.append((key, partner))
        used.add(partner)
    pairs += [(key, None) for key in keys if _is_baseline(key) and key not in used]
    return pairs


def _object_table(name: str, value: dict) -> list[str]:
    if all(isinstance(item, dict) for item in value.values()):
        columns: list[str] = []
        for item in value.values():
            columns += [key for key, cell in item.items() if key not in columns and not isinstance(cell, dict)]
        ordered = []
        for key, partner in _paired(columns):
            ordered += [key] + ([partner] if partner else [])
        first = "Path" if name == "paths" else _label(name)
        lines = [f"### {_label(name)}", "", "| " + " | ".join([first] + [_label(k) for k in ordered]) + " |",
                 "|" + "---|" * (len(ordered) + 1)]
        for row, item in value.items():
            cells = [SHORT_TITLES.get(row, row)] + [_value(item.get(key)) for key in ordered]
            lines.append("| " + " | ".join(cells) + " |")
        return lines + [""]
    lines = [f"### {_label(name)}", "", "| Figure | Value | Baseline |", "|---|---|---|"]
    for key, partner in _paired(value):
        lines.append(f"| {_label(key)} | {_value(value[key])} | {_value(value.get(partner) if partner else None)} |")
    return lines + [""]


def _label(key: str) -> str:
    return key.replace("_", " ")


def _value(value: object) -> str:
    if value is None:
        return _DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        magnitude = abs(value)
        return _number(value, 0 if magnitude >= 100 else 1 if magnitude >= 10 else 3)
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False)
        return f"`{text}`" if len(text) <= 60 else f"{len(value)} values"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: object, decimals: int) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return _DASH if value is None else str(value)
    return f"{value:,.{decimals}f}"


def _code(value: object) -> str:
    return f"`{value}`" if value else _DASH
