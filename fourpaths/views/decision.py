"""Choose a path: five factors in, the four paths (and RAG + fine-tuned, where it fits) ranked out, each with
the measured figures that support it.

The rules, in one place
-----------------------
Every candidate starts at 0 points. Each row of `RULES` adds its points to one candidate when a factor is at
one of the listed levels, and its reason is shown beside the recommendation. `rules_frame()` renders the table
(the Choose page shows it). The levels of each factor are in `FACTORS`.

Measured rule (needs results/eval.json): the accuracy needed sets a target strict score (`ACCURACY_TARGETS`).
Each measured path is judged on eval_unseen (facts that arrived after training) when the knowledge changes
monthly or faster, else on eval_seen (trained facts in new words): below the target it loses
`MISSED_TARGET_POINTS`, at or above it gains `MET_TARGET_POINTS`. RAG + fine-tuned is not measured here, so
this rule leaves it alone.

A path measured strictly right on none of the questions of the judged set fails the need: it is "not advised"
whatever its points, and ranked after every path that does not fail (`fails_need`), so it is never first
while another path is not failing.

RAG + fine-tuned fits only with at least hundreds of labelled examples and some ML expertise
(`combination_fits`); otherwise it is not listed.

Ranking: by points, ties broken by the order of `CANDIDATES` (simplest first). A candidate with
`ADVISED_FROM` points or more is "recommended", below `POSSIBLE_FROM` "not advised", "possible" between.

Evidence lines are computed from results/eval.json, results/bench.json and the models' training_summary.json;
a file that is missing is named with the command that makes it. No streamlit here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from fourpaths.answering.paths import SHORT_TITLES
from fourpaths.config import PROJECT_ROOT, Settings, results_file
from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import relative_message
from fourpaths.retrieval.corpus import SPLIT_NOTES
from fourpaths.views.costs import PathCost, describe_cost, load_bench, path_costs
from fourpaths.views.scoreboard import load as load_eval

# factor -> (question shown, levels from least to most)
FACTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accuracy": ("Accuracy needed", ("rough answers are fine", "mostly right", "right nearly every time")),
    "examples": ("Labelled examples available (question and answer pairs)",
                 ("none", "tens", "hundreds", "thousands or more")),
    "expertise": ("Machine-learning expertise in the team", ("none", "some", "strong")),
    "compute": ("Compute and budget", ("CPUs only, small budget", "a GPU for a few days", "a GPU cluster")),
    "change": ("How often the knowledge changes", ("rarely (yearly or less)", "monthly", "weekly or faster")),
}
# The same levels as short words, for `fourpaths choose --accuracy mostly ...`
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "accuracy": ("rough", "mostly", "nearly-always"),
    "examples": ("none", "tens", "hundreds", "thousands"),
    "expertise": ("none", "some", "strong"),
    "compute": ("cpu", "gpu", "cluster"),
    "change": ("rarely", "monthly", "weekly"),
}
CANDIDATES = ("prompt", "rag", "lora", "rag+lora", "scratch")  # simplest first: ties go to the simpler
TITLES = {**SHORT_TITLES, "rag+lora": "RAG + fine-tuned"}
ACCURACY_TARGETS = (0.3, 0.6, 0.85)  # strict score needed at each accuracy level
MISSED_TARGET_POINTS = -2
MET_TARGET_POINTS = 1
ADVISED_FROM = 2
FAILS_VERDICT = "not advised: fails this need"
POSSIBLE_FROM = -1


@dataclass(frozen=True)
class Rule:
    factor: str
    levels: tuple[int, ...]
    candidate: str
    points: int
    why: str


RULES: tuple[Rule, ...] = (
    # Accuracy needed
    Rule("accuracy", (0,), "prompt", 1, "rough answers are within reach of a prompt alone"),
    Rule("accuracy", (1, 2), "prompt", -2, "a prompt alone knows nothing of your documents"),
    Rule("accuracy", (1, 2), "rag", 2, "answers are read from your documents, and it can say they do not answer"),
    Rule("accuracy", (1, 2), "lora", 1, "the model learns your domain's facts and wording"),
    Rule("accuracy", (2,), "rag+lora", 2, "retrieval brings the facts, the fine-tuned model knows the domain"),
    Rule("accuracy", (2,), "scratch", -2, "a model that starts from nothing rarely recalls facts exactly"),
    # Labelled examples
    Rule("examples", (0, 1), "prompt", 1, "needs no labelled examples (a few can go in the prompt)"),
    Rule("examples", (0, 1, 2, 3), "rag", 1, "needs documents, not labelled examples"),
    Rule("examples", (0,), "lora", -4, "fine-tuning needs labelled examples, and there are none"),
    Rule("examples", (1,), "lora", -2, "tens of examples are too few to fine-tune reliably"),
    Rule("examples", (2, 3), "lora", 2, "enough labelled examples to fine-tune on"),
    Rule("examples", (3,), "rag+lora", 1, "enough examples to fine-tune the model RAG reads with"),
    Rule("examples", (0, 1), "scratch", -5, "a model trained from nothing needs a great deal of text"),
    Rule("examples", (2,), "scratch", -3, "hundreds of examples are far too few for a model that starts from nothing"),
    Rule("examples", (3,), "scratch", -1, "thousands of examples are still little text to learn a language from"),
    # ML expertise
    Rule("expertise", (0,), "prompt", 2, "needs no machine-learning skills"),
    Rule("expertise", (0,), "rag", -1, "an index and a retriever to run, measure and tune"),
    Rule("expertise", (0,), "lora", -2, "training, evaluating and serving an adapter"),
    Rule("expertise", (0, 1), "scratch", -3, "architecture, tokenizer, data and training all to get right"),
    Rule("expertise", (1, 2), "rag", 1, "retrieval is within reach of a team with some ML experience"),
    Rule("expertise", (2,), "lora", 1, "the team can train, evaluate and serve an adapter"),
    Rule("expertise", (2,), "rag+lora", 1, "the team can run both a retriever and a training pipeline"),
    # Compute and budget
    Rule("compute", (0,), "prompt", 1, "no training at all"),
    Rule("compute", (0,), "rag", 1, "the index is built on CPUs"),
    Rule("compute", (0,), "scratch", -3, "training a useful model from nothing needs far more compute"),
    Rule("compute", (1,), "scratch", -1, "one GPU for days trains only a small model from nothing"),
    Rule("compute", (1, 2), "lora", 1, "an adapter trains on one GPU"),
    Rule("compute", (2,), "scratch", 1, "the compute a from-scratch model needs is available"),
    # How often the knowledge changes
    Rule("change", (0,), "lora", 1, "what was trained in stays current"),
    Rule("change", (1,), "lora", -1, "each month's changes mean training again"),
    Rule("change", (2,), "lora", -3, "every change means training again; until then it does not know"),
    Rule("change", (1, 2), "rag", 3, "a new document is searchable once indexed, with no training"),
    Rule("change", (1, 2), "rag+lora", 1, "retrieval keeps the facts current while the adapter knows the domain"),
    Rule("change", (1, 2), "scratch", -3, "every change means training the whole model again"),
)


@dataclass(frozen=True)
class Needs:
    """The five factors, each the index of its level in FACTORS."""

    accuracy: int = 1
    examples: int = 0
    expertise: int = 1
    compute: int = 0
    change: int = 1

    def __post_init__(self) -> None:
        for name, (_, levels) in FACTORS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < len(levels):
                raise FourpathsError(f"{name} must be a level from 0 to {len(levels) - 1}, got {value!r}")

    @classmethod
    def from_keys(cls, **keys: str) -> Needs:
        """Needs from the levels' short words (LEVEL_KEYS), as the command line gives them."""
        values = {}
        for name, key in keys.items():
            if name not in LEVEL_KEYS:
                raise FourpathsError(f"unknown factor {name!r}; choose from {', '.join(LEVEL_KEYS)}")
            if key not in LEVEL_KEYS[name]:
                raise FourpathsError(f"{name}: {key!r} is not one of: {', '.join(LEVEL_KEYS[name])}")
            values[name] = LEVEL_KEYS[name].index(key)
        return cls(**values)

    @classmethod
    def from_labels(cls, **labels: str) -> Needs:
        """Needs from the levels' labels, as a page's widgets give them."""
        values = {}
        for name, label in labels.items():
            if name not in FACTORS:
                raise FourpathsError(f"unknown factor {name!r}; choose from {', '.join(FACTORS)}")
            levels = FACTORS[name][1]
            if label not in levels:
                raise FourpathsError(f"{name}: {label!r} is not one of: {', '.join(levels)}")
            values[name] = levels.index(label)
        return cls(**values)

    def label(self, name: str) -> str:
        return FACTORS[name][1][getattr(self, name)]


@dataclass
class Evidence:
    """What the measurements say: the two results files (or why each is missing) and every path's cost."""

    eval_doc: dict | None = None
    eval_problem: str | None = None
    bench: dict | None = None
    bench_problem: str | None = None
    costs: dict[str, PathCost] = field(default_factory=dict)

    def strict(self, split: str, path_id: str) -> float | None:
        if not self.eval_doc:
            return None
        figures = (self.eval_doc["splits"].get(split) or {}).get("paths", {}).get(path_id)
        return None if figures is None else figures.get("strict")


@dataclass
class Recommendation:
    candidate: str
    title: str
    points: int
    verdict: str
    reasons: list[tuple[int, str]]  # (points, why), the rules and measurements that fired
    evidence: list[str]  # measured figures, in words
    fails: bool = False  # measured strictly right on none of the judged set's questions

    def to_json(self) -> dict:
        return {"path": self.candidate, "title": self.title, "points": self.points, "verdict": self.verdict,
                "fails_need": self.fails, "reasons": [{"points": p, "why": why} for p, why in self.reasons],
                "evidence": self.evidence}


def gather_evidence(settings: Settings) -> Evidence:
    evidence = Evidence(costs=path_costs(settings))
    try:
        evidence.eval_doc = load_eval(settings)
    except FourpathsError as error:
        evidence.eval_problem = relative_message(error)
    try:
        evidence.bench = load_bench(settings)
    except FourpathsError as error:
        evidence.bench_problem = relative_message(error)
    return evidence


def _shown(path) -> str:
    """A path inside the project relative to it, as the commands that write the files name it."""
    return str(path).replace(f"{PROJECT_ROOT}{os.sep}", "")


def combination_fits(needs: Needs) -> bool:
    """RAG + fine-tuned needs examples to fine-tune on and a team that can run both."""
    return needs.examples >= 2 and needs.expertise >= 1


def judged_split(needs: Needs) -> str:
    """The question set the accuracy needed is judged on: facts that arrive after training when the knowledge
    changes monthly or faster, else trained facts in new words."""
    return "eval_unseen" if needs.change >= 1 else "eval_seen"


def recommend(needs: Needs, evidence: Evidence | None = None) -> list[Recommendation]:
    """The candidates ranked by the rules (and, with measured figures, the measured rule), best first."""
    evidence = evidence or Evidence()
    candidates = [c for c in CANDIDATES if c != "rag+lora" or combination_fits(needs)]
    reasons: dict[str, list[tuple[int, str]]] = {c: [] for c in candidates}
    for rule in RULES:
        if rule.candidate in reasons and getattr(needs, rule.factor) in rule.levels:
            reasons[rule.candidate].append((rule.points, rule.why))
    split = judged_split(needs)
    target = ACCURACY_TARGETS[needs.accuracy]
    for candidate in candidates:
        measured = evidence.strict(split, candidate)
        if measured is None:
            continue
        if measured < target:
            why = f"measured {measured:.2f} strict on {split}, below the {target:.2f} needed"
            reasons[candidate].append((MISSED_TARGET_POINTS, why))
        else:
            reasons[candidate].append((MET_TARGET_POINTS, f"measured {measured:.2f} strict on {split}, meeting "
                                                          f"the {target:.2f} needed"))
    ranked = []
    for candidate in candidates:
        points = sum(p for p, _ in reasons[candidate])
        fails = fails_need(candidate, needs, evidence)
        verdict = (FAILS_VERDICT if fails else "not advised" if points < POSSIBLE_FROM else
                   "recommended" if points >= ADVISED_FROM else "possible")
        ranked.append(Recommendation(candidate, TITLES[candidate], points, verdict, reasons[candidate],
                                     evidence_lines(candidate, needs, evidence), fails))
    ranked.sort(key=lambda r: (r.fails, -r.points, CANDIDATES.index(r.candidate)))
    return ranked


def fails_need(candidate: str, needs: Needs, evidence: Evidence) -> bool:
    """Measured strictly right on none of the questions of the set the need is judged on."""
    measured = evidence.strict(judged_split(needs), candidate)
    return measured is not None and measured <= 0


# ---------------------------------------------------------------------------
# Evidence in words


def evidence_lines(candidate: str, needs: Needs, evidence: Evidence) -> list[str]:
    """The measured figures behind a candidate, each in a sentence; what is not measured says so."""
    if candidate == "rag+lora":
        lines = ["The combination itself is not measured here; its parts are:"]
        for part in ("rag", "lora"):
            lines += [line for line in evidence_lines(part, needs, evidence)[:1] if line not in lines]
        return lines
    lines = []
    title = TITLES[candidate]
    if evidence.eval_doc:
        first = judged_split(needs)
        for split in (first, "eval_unseen" if first == "eval_seen" else "eval_seen", "eval_unanswerable"):
            line = _split_line(candidate, split, evidence)
            if line:
                lines.append(line)
    cost = evidence.costs.get(candidate)
    if cost is not None:
        lines.append(describe_cost(cost))
    speed = ((evidence.bench or {}).get("paths") or {}).get(candidate)
    if speed and speed.get("answer_ms") is not None:
        line = f"{title}: an answer in {speed['answer_ms']:.0f} ms (median, `fourpaths bench`)"
        if speed.get("tokens_per_s"):
            line += f", {speed['tokens_per_s']:.1f} tokens/s"
        lines.append(line)
    return lines  # a missing results file is named once, by the page and the summary's Sources


def _split_line(candidate: str, split: str, evidence: Evidence) -> str | None:
    """E.g. "RAG: 0.78 strict on eval_unseen, where LoRA scores 0.02, ... — 50 questions: <what the set is>."."""
    value = evidence.strict(split, candidate)
    if value is None:
        return None
    others = [(TITLES[p], evidence.strict(split, p)) for p in SHORT_TITLES if p != candidate]
    others = [f"{name} {v:.2f}" for name, v in others if v is not None]
    what = "abstains correctly on" if split == "eval_unanswerable" else "strict on"
    line = f"{TITLES[candidate]}: {value:.2f} {what} {split}"
    if others:
        line += ", where " + (others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1])
    n = (evidence.eval_doc["splits"].get(split) or {}).get("n")
    note = SPLIT_NOTES.get(split)
    tail = [part for part in (f"{n} questions" if n else None, note) if part]
    return line + (" — " + ": ".join(tail) if tail else "") + "."


# ---------------------------------------------------------------------------
# Tables and the summary to take to a meeting


def how_it_works() -> str:
    """The ranking method in words for the page, its numbers taken from the constants above."""
    targets = ", ".join(f"{FACTORS['accuracy'][1][i]}: {t:.2f}" for i, t in enumerate(ACCURACY_TARGETS))
    return (f"Every path starts at 0 points; each rule in the table adds its points when a factor is at one of the "
            f"levels it names. Measured: the accuracy needed sets a target strict score ({targets}); each measured "
            f"path is judged on eval_unseen when the knowledge changes monthly or faster, else on eval_seen, and "
            f"gains {MET_TARGET_POINTS:+d} when it meets the target, {MISSED_TARGET_POINTS:+d} when it misses; a path "
            f"strictly right on none of those questions fails the need: not advised and ranked last, whatever its "
            f"points. "
            f"RAG + fine-tuned is listed when there are at least hundreds of labelled examples and some ML "
            f"expertise. {ADVISED_FROM} points or more: recommended; below {POSSIBLE_FROM}: not advised. "
            f"Ties go to the simpler path.")


def rules_frame() -> pd.DataFrame:
    """RULES as a table: factor, levels, candidate, points, reason."""
    rows = [{"factor": FACTORS[r.factor][0], "when": " or ".join(FACTORS[r.factor][1][i] for i in r.levels),
             "candidate": TITLES[r.candidate], "points": r.points, "why": r.why} for r in RULES]
    return pd.DataFrame(rows)


def ranking_frame(ranking: list[Recommendation]) -> pd.DataFrame:
    return pd.DataFrame([{"rank": n, "path": r.title, "points": r.points, "verdict": r.verdict}
                         for n, r in enumerate(ranking, start=1)]).set_index("rank")


def headline(ranking: list[Recommendation], needs: Needs) -> str:
    """One sentence: the path to take, or that no measured path meets the need."""
    if not ranking:
        return "No path fits these needs."
    first = ranking[0]
    if first.fails:
        return (f"No path measured here meets this need: every one is strictly right on none of "
                f"{judged_split(needs)}.")
    return f"{first.title}: {first.verdict} ({first.points:+d} points)."


def choice_json(needs: Needs, ranking: list[Recommendation], summary: str) -> dict:
    """What `fourpaths choose --json` prints: the inputs, the ranking (as the page ranks) and the summary."""
    return {"needs": {name: needs.label(name) for name in FACTORS}, "judged_on": judged_split(needs),
            "headline": headline(ranking, needs), "ranking": [r.to_json() for r in ranking], "summary": summary}


def models_used(settings: Settings, evidence: Evidence) -> list[str]:
    """Each path's model location, with the weights hash results/eval.json recorded for it when there is one."""
    identities = (evidence.eval_doc or {}).get("models") or {}
    lines = []
    for path_id, cost in evidence.costs.items():
        identity = identities.get(cost.setting) if isinstance(identities.get(cost.setting), dict) else {}
        digest = f" (weights {identity['hash']})" if identity.get("hash") else ""
        lines.append(f"{TITLES[path_id]}: {cost.setting} = `{cost.location or '(empty)'}`{digest}")
    return lines


def summary_markdown(needs: Needs, ranking: list[Recommendation], evidence: Evidence, settings: Settings,
                     when: datetime | None = None) -> str:
    """One page for the meeting: inputs, ranking, evidence, date, models, and where the figures come from."""
    when = when or datetime.now(timezone.utc)
    lines = ["# Choosing a path: fourpaths recommendation", "", f"Date: {when.strftime('%Y-%m-%d %H:%M UTC')}", "",
             "## Inputs", ""]
    lines += [f"- {question}: {needs.label(name)}" for name, (question, _) in FACTORS.items()]
    lines += ["", "## Ranking", "", "| Rank | Path | Points | Verdict |", "|---|---|---|---|"]
    lines += [f"| {n} | {r.title} | {r.points} | {r.verdict} |" for n, r in enumerate(ranking, start=1)]
    lines.append("")
    lines += [headline(ranking, needs), ""]
    for n, r in enumerate(ranking, start=1):
        lines += [f"### {n}. {r.title} ({r.verdict})", "", "Why:"]
        lines += [f"- {points:+d}: {why}" for points, why in r.reasons] or ["- no rule applies"]
        lines += ["", "Measured:"]
        lines += [f"- {line}" for line in r.evidence] or ["- nothing measured"]
        lines.append("")
    lines += ["## Models", ""] + [f"- {line}" for line in models_used(settings, evidence)] + [""]
    lines += ["## Sources", ""]
    unrecorded = "at an unrecorded date"
    if evidence.eval_doc:
        commit = evidence.eval_doc.get("commit")
        lines.append(f"- Accuracy: {_shown(results_file(settings, 'eval'))}, "
                     f"measured {evidence.eval_doc.get('date', unrecorded)}"
                     + (f", commit {commit[:12]}" if commit else ""))
    else:
        lines.append(f"- Accuracy: {evidence.eval_problem}")
    if evidence.bench:
        lines.append(f"- Speed and memory: {_shown(results_file(settings, 'bench'))}, measured "
                     f"{evidence.bench.get('date', unrecorded)}")
    else:
        lines.append(f"- Speed and memory: {evidence.bench_problem}")
    lines.append("- Cost to build: each model's training_summary.json and the search index's manifest.json")
    lines += ["", "The rules are in fourpaths/views/decision.py (RULES); each figure above comes from the files named.",
              ""]
    return "\n".join(lines)
