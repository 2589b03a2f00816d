"""The benchmark's report: every figure present, each with its baseline, measured on micro models."""

from __future__ import annotations

from fourpaths.bench import run_bench
from fourpaths.paths import PATH_IDS


def test_bench_reports_figures_beside_baselines(micro_env):
    result = run_bench(micro_env, repeats=1, cold_start=True)
    # both measured, never compared: timings on a shared machine are for the benchmark report, not for tests
    assert result["cold_start_ms"] > 0 and result["baseline_import_only_ms"] > 0
    assert set(result["paths"]) == set(PATH_IDS)
    for figures in result["paths"].values():
        assert figures["total_ms"] >= figures["ttft_ms"] >= 0
        assert figures["tokens_per_s"] > 0 and figures["baseline_tokens_per_s"] > 0
    assert result["concurrent_wall_ms"] > 0 and result["sequential_wall_ms"] > 0
    assert result["retrieval_p50_ms"] > 0 and result["baseline_numpy_retrieval_p50_ms"] > 0
    assert result["dense_faiss_retrieval_p50_ms"] > 0 and result["retrieval"] == "hybrid"
    assert result["peak_rss_mb"] >= result["baseline_rss_after_imports_mb"] > 0
