"""The command line: the same answers as the package, JSON as documented, one-line errors and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fourpaths.cli import main
from fourpaths.paths import PATH_IDS

QUESTION = "What is the list price of the Ferret AMR?"


def test_ask_json_has_the_documented_shape(micro_env, capsys):
    assert main(["ask", QUESTION, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == QUESTION
    assert [answer["path"] for answer in data["answers"]] == list(PATH_IDS)
    for answer in data["answers"]:
        assert {"text", "ttft_ms", "total_ms", "new_tokens", "tokens_per_s", "prompt", "sources"} <= set(answer)
    rag = next(answer for answer in data["answers"] if answer["path"] == "rag")
    assert rag["sources"] and {"source", "score", "text"} == set(rag["sources"][0])


def test_ask_prints_four_columns(micro_env, capsys):
    assert main(["ask", QUESTION]) == 0
    out = capsys.readouterr().out
    for title in ("Prompt engineering", "Fine-tuned (LoRA)", "RAG", "Trained from scratch"):
        assert title in out
    assert out.count("tok/s") == 4


def test_app_cli_and_package_agree_for_a_seed(micro_env, capsys):
    from fourpaths.ask import ask
    from fourpaths.config import load_settings

    assert main(["ask", QUESTION, "--json", "--temperature", "0.9", "--seed", "5"]) == 0
    cli = {a["path"]: a["text"] for a in json.loads(capsys.readouterr().out)["answers"]}
    settings = load_settings()
    from fourpaths.config import with_overrides

    package = ask(QUESTION, with_overrides(settings, temperature=0.9, seed=5))
    assert cli == {path: trace.text for path, trace in package.items()}


def _run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fourpaths.cli", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("args, message", [
    (["ask", ""], "question is empty"),
    (["ask", "x" * 600], "limit is 500"),
    (["ask", "hello", "--template", "telepathy"], "unknown prompt template"),
    (["ask", "hello", "--config", "/nonexistent/fourpaths.toml"], "cannot read config file"),
    (["train", "base", "--stage", "pretrain", "--init-from", "/nonexistent/base"], "none found at /nonexistent/base"),
    (["train", "base", "--stage", "reading", "--output", "/nonexistent/base"], "none found at /nonexistent/base"),
])
def test_bad_input_is_one_line_on_stderr_and_a_nonzero_exit(micro_env, args, message):
    import os

    result = _run_cli(*args, env=dict(os.environ))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_misconfigured_model_path_reports_per_path(micro_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(tmp_path / "missing"))
    assert main(["ask", QUESTION, "--json"]) == 0
    answers = {a["path"]: a for a in json.loads(capsys.readouterr().out)["answers"]}
    assert "not found" in answers["scratch"]["error"]
    assert answers["rag"]["text"] is not None


def test_every_path_failing_is_a_nonzero_exit(micro_env, monkeypatch, tmp_path):
    monkeypatch.setenv("FOURPATHS_BASE_MODEL", str(tmp_path / "missing"))
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(tmp_path / "missing"))
    assert main(["ask", QUESTION]) == 1


def test_eval_json_shape(micro_env, capsys):
    assert main(["eval", "--split", "eval_unseen", "--limit", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "eval_unseen" and report["n"] == 2
    assert set(report["paths"]) == set(PATH_IDS)
    for scores in report["paths"].values():
        assert {"accuracy", "f1", "p50_ms", "p95_ms"} <= set(scores)
        assert 0 <= scores["accuracy"] <= 1 and scores["p50_ms"] <= scores["p95_ms"]
    assert report["retrieval"]["k"] == 3 and 0 <= report["retrieval"]["hit_at_k"] <= 1


def test_index_command_builds_then_reuses(micro_env, capsys):
    assert main(["index"]) == 0
    assert main(["index"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "up to date" in last
    chunks, sentences = (int(n) for n in re.match(r"index: (\d+) chunks and (\d+) sentences", last).groups())
    assert sentences > chunks > 0  # every chunk's sentences are embedded for the RAG evidence ranking
