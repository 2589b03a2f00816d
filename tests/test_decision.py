"""The Choose page's rules: the table is well-formed, the ranking follows the inputs, the measured rule and the
evidence lines come from the results file, and the summary holds what a meeting needs."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import datetime, timezone

import pytest
from conftest import DOC

from fourpaths.config import Settings
from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import BENCH_COMMAND, EVAL_COMMAND
from fourpaths.views import decision
from fourpaths.views.decision import (
    CANDIDATES,
    FACTORS,
    RULES,
    Evidence,
    Needs,
    recommend,
)

SMALL_TEAM = Needs(accuracy=1, examples=0, expertise=0, compute=0, change=2)  # no data, no ML, CPUs, weekly news
BIG_LAB = Needs(accuracy=2, examples=3, expertise=2, compute=2, change=0)  # data, skills, GPUs, stable facts


def titles(ranking) -> list[str]:
    return [r.title for r in ranking]


def test_every_rule_names_a_known_factor_level_and_candidate():
    assert [f.name for f in fields(Needs)] == list(FACTORS)
    for rule in RULES:
        assert rule.factor in FACTORS and rule.candidate in CANDIDATES and rule.why and rule.points
        assert all(0 <= level < len(FACTORS[rule.factor][1]) for level in rule.levels), rule
    frame = decision.rules_frame()
    assert len(frame) == len(RULES) and list(frame.columns) == ["factor", "when", "candidate", "points", "why"]
    assert "0.85" in decision.how_it_works() and "Ties go to the simpler path" in decision.how_it_works()


def test_needs_are_checked():
    with pytest.raises(FourpathsError, match="examples must be a level from 0 to 3"):
        Needs(examples=4)
    with pytest.raises(FourpathsError, match="is not one of"):
        Needs.from_labels(change="hourly")
    with pytest.raises(FourpathsError, match="unknown factor"):
        Needs.from_labels(mood="good")
    assert Needs.from_labels(examples="hundreds", expertise="strong") == Needs(examples=2, expertise=2)
    assert BIG_LAB.label("compute") == "a GPU cluster"


def test_the_ranking_follows_the_inputs():
    small = recommend(SMALL_TEAM)
    assert titles(small)[0] == "RAG" and titles(small)[-1] == "Scratch"
    assert "RAG + fine-tuned" not in titles(small)  # no examples, no expertise: the combination does not fit
    big = recommend(BIG_LAB)
    assert titles(big)[0] == "LoRA" and "RAG + fine-tuned" in titles(big)
    assert titles(big) != titles(small)
    # Only the knowledge starting to change weekly: the adapter falls below RAG.
    changing = recommend(replace(BIG_LAB, change=2))
    assert titles(changing).index("RAG") < titles(changing).index("LoRA")


def test_points_are_the_sum_of_the_rules_that_fired():
    for recommendation in recommend(BIG_LAB):
        fired = [(r.points, r.why) for r in RULES
                 if r.candidate == recommendation.candidate and getattr(BIG_LAB, r.factor) in r.levels]
        assert recommendation.reasons == fired
        assert recommendation.points == sum(p for p, _ in fired)
        expected = ("recommended" if recommendation.points >= decision.ADVISED_FROM else
                    "possible" if recommendation.points >= decision.POSSIBLE_FROM else "not advised")
        assert recommendation.verdict == expected


def test_ties_go_to_the_simpler_path(monkeypatch):
    monkeypatch.setattr(decision, "RULES", ())
    assert [r.candidate for r in recommend(BIG_LAB)] == list(CANDIDATES)


def test_the_measured_rule_uses_the_results_file():
    evidence = Evidence(eval_doc=DOC)
    needs = Needs(accuracy=2, examples=2, expertise=1, compute=1, change=1)  # judged on eval_unseen, target 0.85
    ranked = {r.candidate: r for r in recommend(needs, evidence)}
    assert (decision.MET_TARGET_POINTS, "measured 1.00 strict on eval_unseen, meeting the 0.85 needed") \
        in ranked["rag"].reasons
    assert (decision.MISSED_TARGET_POINTS, "measured 0.00 strict on eval_unseen, below the 0.85 needed") \
        in ranked["lora"].reasons
    assert not any("measured" in why for _, why in ranked["rag+lora"].reasons)  # not measured here
    assert not any("measured" in why for r in recommend(needs) for _, why in r.reasons)  # no file, no rule
    stable = {r.candidate: r for r in recommend(replace(needs, change=0, accuracy=1), evidence)}
    assert (decision.MISSED_TARGET_POINTS, "measured 0.50 strict on eval_seen, below the 0.60 needed") \
        in stable["lora"].reasons


def test_evidence_lines_quote_the_figures():
    evidence = Evidence(eval_doc=DOC, bench={"paths": {"rag": {"answer_ms": 51.4, "tokens_per_s": None}}})
    lines = decision.evidence_lines("rag", Needs(change=2), evidence)
    assert lines[0] == ("RAG: 1.00 strict on eval_unseen, where Prompt 0.00, LoRA 0.00 and Scratch 0.00 — "
                        "2 questions: facts from documents that arrived after training (corpus/updates).")
    assert lines[1].startswith("RAG: 0.50 strict on eval_seen, where Prompt 0.00, LoRA 0.50 and Scratch 0.00")
    assert lines[-1] == "RAG: an answer in 51 ms (median, `fourpaths bench`)"
    combined = decision.evidence_lines("rag+lora", Needs(change=2), evidence)
    assert combined[0] == "The combination itself is not measured here; its parts are:"
    assert combined[1] == lines[0] and combined[2].startswith("LoRA: 0.00 strict on eval_unseen")
    assert decision.evidence_lines("rag", Needs(), Evidence()) == []


def test_gather_evidence_names_the_missing_files(tmp_path):
    evidence = decision.gather_evidence(Settings(results_dir=str(tmp_path)))
    assert evidence.eval_doc is None and f"run `{EVAL_COMMAND}`" in evidence.eval_problem
    assert evidence.bench is None and f"run `{BENCH_COMMAND}`" in evidence.bench_problem
    assert list(evidence.costs) == ["prompt", "lora", "rag", "scratch"]
    (tmp_path / "eval.json").write_text(json.dumps(DOC), encoding="utf-8")
    assert decision.gather_evidence(Settings(results_dir=str(tmp_path))).eval_doc == DOC


def test_summary_holds_inputs_ranking_evidence_date_and_models(tmp_path):
    (tmp_path / "eval.json").write_text(json.dumps(DOC), encoding="utf-8")
    settings = Settings(results_dir=str(tmp_path))
    evidence = decision.gather_evidence(settings)
    needs = Needs(accuracy=2, examples=2, expertise=1, compute=1, change=1)
    ranking = recommend(needs, evidence)
    text = decision.summary_markdown(needs, ranking, evidence, settings,
                                     when=datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc))
    assert "Date: 2026-12-06 09:30 UTC" in text
    assert "- How often the knowledge changes: monthly" in text and "- Accuracy needed: right nearly every time" in text
    assert f"| 1 | {ranking[0].title} | {ranking[0].points} | {ranking[0].verdict} |" in text
    assert "- RAG: 1.00 strict on eval_unseen, where Prompt 0.00, LoRA 0.00 and Scratch 0.00" in text
    assert "RAG + fine-tuned" in text and "The combination itself is not measured here" in text
    assert "- LoRA: lora_adapter = `models/lora`" in text
    assert f"- Accuracy: {tmp_path}/eval.json, measured {DOC['date']}, commit {DOC['commit'][:12]}" in text
    assert f"- Speed and memory: {tmp_path}/bench.json: not found; run `{BENCH_COMMAND}`" in text


def test_a_path_that_fails_the_need_is_never_first_nor_advised():
    """Prompt, with the most points for a small team, is strictly right on nothing: it is ranked after RAG."""
    doc = json.loads(json.dumps(DOC))
    for split in ("eval_seen", "eval_unseen"):
        doc["splits"][split]["paths"]["prompt"]["strict"] = 0.0
    needs = Needs(accuracy=0, examples=0, expertise=0, compute=0, change=2)
    ranked = recommend(needs, Evidence(eval_doc=doc))
    assert ranked[0].candidate != "prompt"
    prompt = next(r for r in ranked if r.candidate == "prompt")
    assert prompt.fails and prompt.verdict == decision.FAILS_VERDICT
    assert all(not r.fails for r in ranked[:ranked.index(prompt)])
    assert recommend(needs)[0].candidate == "prompt"  # without measurements its points would put it first


def test_when_every_measured_path_fails_the_headline_says_so():
    doc = json.loads(json.dumps(DOC))
    for figures in doc["splits"]["eval_unseen"]["paths"].values():
        figures["strict"] = 0.0
    needs = Needs(change=1)
    ranked = recommend(needs, Evidence(eval_doc=doc))
    assert all(r.fails for r in ranked)
    assert decision.headline(ranked, needs).startswith("No path measured here meets this need")


def test_fourpaths_choose_never_ranks_first_a_path_that_fails_for_any_inputs(capsys):
    """Every combination of the five inputs through `fourpaths choose --json`, on the shipped results file."""
    import itertools

    from fourpaths.cli import main
    from fourpaths.config import load_settings

    evidence = decision.gather_evidence(load_settings())
    assert evidence.eval_doc is not None, evidence.eval_problem
    combinations = list(itertools.product(*decision.LEVEL_KEYS.values()))
    assert len(combinations) == 3 * 4 * 3 * 3 * 3
    for combination in combinations:
        argv = ["choose", "--json"] + [part for name, key in zip(decision.LEVEL_KEYS, combination)
                                       for part in (f"--{name}", key)]
        assert main(argv) == 0
        printed = json.loads(capsys.readouterr().out)
        first = printed["ranking"][0]
        needs = Needs.from_keys(**dict(zip(decision.LEVEL_KEYS, combination)))
        measured = evidence.strict(printed["judged_on"], first["path"])
        assert measured is None or measured > 0, (combination, first)
        assert not first["fails_need"] and first["title"] in printed["summary"]
        assert [r["title"] for r in printed["ranking"]] == titles(recommend(needs, evidence))
