"""The command line on the micro models: the same answers as the package, JSON as documented, one-line errors
and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields

import pytest

from fourpaths.cli import main
from fourpaths.types import Trace

QUESTION = "What is the list price of the Ferret AMR?"
PATH_IDS = ["prompt", "lora", "rag", "scratch"]
TITLES = {"prompt": "Prompt engineering (generated)", "lora": "Fine-tuned (LoRA) (answer head)",
          "rag": "RAG (extractive reader)", "scratch": "Trained from scratch (generated)"}


def test_ask_json_has_the_documented_shape(micro_env, capsys):
    assert main(["ask", f"  {QUESTION}\n", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == QUESTION
    assert list(data["answers"]) == PATH_IDS
    for path_id, answer in data["answers"].items():
        assert set(answer) == {f.name for f in fields(Trace)}, answer
        assert answer["path"] == path_id and "error" not in answer
        assert 0 <= answer["ttft_ms"] <= answer["total_ms"]
    assert data["answers"]["rag"]["mode"] == "extractive reader"
    sources = data["answers"]["rag"]["sources"]
    assert len(sources) == micro_env.top_k_passages and set(sources[0]) == {"source", "score", "text"}
    assert data["answers"]["lora"]["mode"] == "answer head" and data["answers"]["lora"]["score"] is not None
    assert data["answers"]["scratch"]["new_tokens"] >= 1


def test_ask_prints_the_four_answers_side_by_side(micro_env, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["ask", QUESTION]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert [title for title in TITLES.values() if title in header] == list(TITLES.values())
    assert out.count("tok/s") == 2  # the two generating paths; the reader and the answer head pick
    assert out.count(", score ") == 2
    assert "[1] docs/" in out


def test_only_the_paths_asked_for_answer(micro_env, capsys):
    assert main(["ask", QUESTION, "--json", "--paths", "rag", "scratch"]) == 0
    assert list(json.loads(capsys.readouterr().out)["answers"]) == ["rag", "scratch"]


def test_cli_and_package_agree_for_a_seed(micro_env, capsys):
    from fourpaths.answering.pipeline import ask
    from fourpaths.config import load_settings, with_overrides

    assert main(["ask", QUESTION, "--json", "--temperature", "0.9", "--seed", "5", "--max-new-tokens", "12"]) == 0
    cli = {path: answer["text"] for path, answer in json.loads(capsys.readouterr().out)["answers"].items()}
    package = ask(QUESTION, with_overrides(load_settings(), temperature=0.9, seed=5, max_new_tokens=12))
    assert cli == {path: trace.text for path, trace in package.items()}


def _run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fourpaths.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), cwd=cwd, timeout=600)


@pytest.mark.parametrize("args, message", [
    (["ask", ""], "the question is empty"),
    (["ask", "x" * 600], "limit is 500"),
    (["ask", "hello", "--template", "telepathy"], "setting template = 'telepathy' is no prompt template"),
    (["ask", "hello", "--config", "/nonexistent/fourpaths.toml"],
     "cannot read config file /nonexistent/fourpaths.toml"),
    (["ask", "hello", "--max-new-tokens", "0"], "setting max_new_tokens = 0 is out of range"),
    (["train", "base", "--preset", "micro", "--output", "{file}/base"], "{file} is not a folder"),
])
def test_bad_input_is_one_line_on_stderr_and_a_nonzero_exit(args, message, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    args = [arg.replace("{file}", str(a_file)) for arg in args]
    if args[0] == "train":
        args += ["--run-dir", str(tmp_path / "runs")]
    result = _run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fourpaths: error: ") and message.replace("{file}", str(a_file)) in lines[0]
    assert not (tmp_path / "runs").exists()  # refused before any training


def test_a_missing_model_fails_only_its_own_column(micro_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(tmp_path / "missing"))
    assert main(["ask", QUESTION, "--json"]) == 1  # the exit status says not every path answered
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"fourpaths: error: 1 of 4 paths failed (scratch: model folder not found: "
                                f"{tmp_path / 'missing'})"]
    answers = json.loads(out)["answers"]
    assert answers["scratch"] == {"path": "scratch", "error": f"model folder not found: {tmp_path / 'missing'}"}
    assert all("error" not in answers[path] for path in ("prompt", "lora", "rag"))


def test_every_path_failing_is_a_nonzero_exit_with_one_line(micro_env, monkeypatch, tmp_path, capsys):
    for name in ("BASE_MODEL", "LORA_ADAPTER", "READER_MODEL", "SCRATCH_MODEL"):
        monkeypatch.setenv(f"FOURPATHS_{name}", str(tmp_path / "missing"))
    assert main(["ask", QUESTION]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("fourpaths: error: no path answered"), err
    assert all(f"{path}: " in err[0] for path in PATH_IDS)


def test_eval_json_shape_and_output_file(micro_env, capsys, tmp_path):
    output = tmp_path / "results" / "eval.json"
    assert main(["eval", "--split", "eval_unseen", "--limit", "2", "--json", "--output", str(output)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert json.loads(output.read_text()) == document
    assert list(document["splits"]) == ["eval_unseen"] and document["limit"] == 2
    report = document["splits"]["eval_unseen"]
    assert report["n"] == 2 and len(report["items"]) == 2
    assert set(report["paths"]) == set(PATH_IDS)
    for scores in report["paths"].values():
        assert {"accuracy", "strict", "f1", "abstained", "p50_ms", "p95_ms", "errors"} <= set(scores)
        assert 0 <= scores["accuracy"] <= 1 and scores["p50_ms"] <= scores["p95_ms"] and scores["errors"] == 0
    assert report["retrieval"]["k"] == micro_env.top_k_passages and 0 <= report["retrieval"]["hit_at_k"] <= 1
    assert document["settings"]["temperature"] == 0.0  # eval is greedy whatever the settings say


def test_eval_prints_a_table_per_split(micro_env, capsys):
    assert main(["eval", "--split", "eval_seen", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "eval_seen: 1 questions, greedy" in out
    assert [line.split()[0] for line in out.splitlines() if line.split()[:1] and line.split()[0] in PATH_IDS] \
        == PATH_IDS


def test_index_command_builds_then_reuses(micro_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", str(tmp_path / "index"))
    assert main(["index"]) == 0
    assert main(["index"]) == 0
    first, second = capsys.readouterr().out.splitlines()[-2:]
    pattern = rf"index: (\d+) chunks, (\d+) sentences in {re.escape(str(tmp_path / 'index'))} \((rebuilt|up to date)\)"
    built, reused = re.fullmatch(pattern, first), re.fullmatch(pattern, second)
    assert built and built.group(3) == "rebuilt" and int(built.group(1)) > 0 and int(built.group(2)) > 0
    assert reused and reused.group(3) == "up to date" and reused.groups()[:2] == built.groups()[:2]
