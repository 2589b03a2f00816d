"""`fourpaths bench`: every figure present, each beside its baseline from the same run, measured on the micro
models through the command line."""

from __future__ import annotations

import json

from fourpaths.answering.paths import PATH_IDS
from fourpaths.cli import main
from fourpaths.measure.bench import BENCH_QUESTIONS


def test_bench_reports_figures_beside_baselines(micro_env, capsys, tmp_path):
    output = tmp_path / "results" / "bench.json"
    assert main(["bench", "--json", "--output", str(output)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(output.read_text()) == result
    assert result["questions"] == len(BENCH_QUESTIONS) and result["machine"] and result["date"]
    # measured, never compared with each other: timings on a shared machine are for the report, not for tests
    assert result["cold_start_ms"] > 0 and result["baseline_import_only_ms"] > 0
    assert list(result["paths"]) == list(PATH_IDS)
    for path_id, figures in result["paths"].items():
        assert figures["answer_ms"] >= figures["first_token_ms"] >= 0, path_id
        if path_id in ("prompt", "scratch"):
            assert figures["mode"] == "generated"
            assert figures["tokens_per_s"] > 0 and figures["baseline_generate_tokens_per_s"] > 0
            baseline = figures["baseline_generate_tokens_per_s"]
            assert figures["over_baseline"] == round(figures["tokens_per_s"] / baseline, 3)
        else:  # the answer head and the reader pick or extract: their time, and no generation baseline
            assert figures["mode"] == "extracted"
            assert figures["tokens_per_s"] is None and figures["baseline_generate_tokens_per_s"] is None
            assert figures["over_baseline"] is None
    assert result["concurrent_wall_ms"] > 0 and result["sequential_wall_ms"] > 0
    assert result["concurrent_over_sequential"] == round(result["concurrent_wall_ms"] / result["sequential_wall_ms"], 3)
    assert result["retrieval_p50_ms"] > 0 and result["faiss_alone_p50_ms"] > 0 and result["baseline_numpy_p50_ms"] > 0
    assert result["peak_rss_mb"] >= result["baseline_rss_after_imports_mb"] > 0


def test_bench_stops_with_one_line_when_a_path_cannot_answer(micro_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(tmp_path / "missing"))
    assert main(["bench", "--no-cold-start"]) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "scratch" in err[0] and str(tmp_path / "missing") in err[0], err
