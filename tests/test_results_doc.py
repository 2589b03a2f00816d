"""docs/results.md from the results files: the tables, the commands, and a clear line for a missing or broken file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import (
    BENCH_COMMAND,
    EVAL_COMMAND,
    RESULTS_COMMAND,
    describe_split,
    load_bench_results,
    load_eval_results,
    render_results,
    write_results_doc,
)


def figures(accuracy, strict, f1, abstained, p50, p95, errors=0, **extra):
    return {"accuracy": accuracy, "strict": strict, "f1": f1, "abstained": abstained, "p50_ms": p50, "p95_ms": p95,
            "errors": errors, **extra}


EVAL_DOC = {
    "format": 1,
    "date": "2026-12-06T10:00:00Z",
    "machine": {"processor": "Intel(R) Xeon(R) Processor", "cpu_count": 2, "memory_gb": 23.6,
                "platform": "Linux-x86_64", "torch": "2.13.0+cpu", "torch_threads": 2, "accelerator": None},
    "commit": "24f719b2ad69d1143a895b71c297cdbad9e2a1b7",
    "uncommitted_changes": True,
    "settings": {"top_k_passages": 5, "retrieval": "hybrid"},
    "models": {"base_model": {"location": "models/base", "hash": "0a6d829d6852"},
               "reader_model": {"location": "models/reader", "hash": None}},
    "limit": None,
    "wall_s": 1234.5,
    "splits": {
        "eval_seen": {"split": "eval_seen", "n": 135, "unanswerable": False,
                      "paths": {"prompt": figures(0.0, 0.0, 0.01, 0.9, 210.4, 380.0, invented_entity_share=0.05),
                                "lora": figures(0.62, 0.61, 0.64, 0.1, 12.0, 20.0),
                                "rag": figures(0.7, 0.65, 0.55, 0.05, 95.0, 140.2),
                                "scratch": figures(0.01, 0.0, 0.02, 0.0, 150.0, 300.0, errors=1)},
                      "retrieval": {"k": 5, "n": 135, "hit_at_k": 0.963}, "items": []},
        "eval_unanswerable": {"split": "eval_unanswerable", "n": 92, "unanswerable": True,
                              "paths": {"prompt": figures(0.8, 0.8, 0.8, 0.8, 200.0, 300.0),
                                        "rag": figures(0.85, 0.85, 0.85, 0.85, 90.0, 120.0)},
                              "retrieval": {"k": 5, "n": 0, "hit_at_k": None}, "items": []},
    },
}

BENCH_DOC = {  # the shape `fourpaths bench --json` writes today, and a pair named the new way
    "cold_start_ms": 5210.4, "baseline_import_only_ms": 3012.2,
    "paths": {"prompt": {"ttft_ms": 35.2, "total_ms": 260.1, "tokens_per_s": 190.3, "baseline_tokens_per_s": 274.0},
              "rag": {"ttft_ms": 80.0, "total_ms": 80.0, "tokens_per_s": 0.0, "baseline_tokens_per_s": None}},
    "concurrent_over_sequential": 0.5641, "peak_rss_mb": 721.4, "baseline_peak_rss_mb": 640.0,
    "retrieval": "hybrid", "repeats": 3,
}


def test_eval_tables_commands_and_provenance():
    text = render_results(EVAL_DOC, None)
    assert text.startswith("# Results\n")
    assert f"```bash\n{EVAL_COMMAND}\n{RESULTS_COMMAND}\n```" in text
    assert "- Date: 2026-12-06T10:00:00Z" in text
    assert "- Machine: Intel(R) Xeon(R) Processor, 2 CPUs, 23.6 GB memory, Linux-x86_64, torch 2.13.0+cpu on 2" in text
    assert "- Commit: `24f719b2ad69` with uncommitted changes" in text
    assert "- Wall time: 20.6 min" in text
    assert "### eval_seen: trained facts, asked in new words (135 questions)" in text
    assert "| Path | Accuracy | Strict | F1 | Abstained | p50 ms | p95 ms | Errors | Invented names |" in text
    assert "| RAG | 0.700 | 0.650 | 0.550 | 0.050 | 95 | 140 | 0 | – |" in text
    assert "| Prompt | 0.000 | 0.000 | 0.010 | 0.900 | 210 | 380 | 0 | 0.050 |" in text
    assert "| Scratch | 0.010 | 0.000 | 0.020 | 0.000 | 150 | 300 | 1 | – |" in text
    assert "top 5 passages for 0.963 of the questions (hit@5)" in text
    assert "| base_model | `models/base` | `0a6d829d6852` |" in text
    assert "| reader_model | `models/reader` | – |" in text
    assert "On eval_seen, RAG is strictly right most often (0.65); then LoRA 0.61, Prompt 0.00, Scratch 0.00." in text
    assert "On eval_unanswerable, RAG abstains most often (0.85); then Prompt 0.80." in text
    # The unanswerable set has no retrieval line, and no invented-names column when no path reports it.
    unanswerable = text.split("### eval_unanswerable")[1].split("###")[0]
    assert "hit@" not in unanswerable and "Invented names" not in unanswerable
    assert "Not measured yet: run `fourpaths bench --repeats 3 --json --output results/bench.json`" in text


def test_bench_figures_beside_their_baselines():
    text = render_results(None, BENCH_DOC)
    assert f"Not measured yet: run `{EVAL_COMMAND}`, then `{RESULTS_COMMAND}`." in text
    assert f"```bash\n{BENCH_COMMAND}\n{RESULTS_COMMAND}\n```" in text
    assert "| Figure | Value | Baseline |" in text
    assert "| peak rss mb | 721 | 640 |" in text  # "baseline_<key>" pairs with its figure
    assert "| concurrent over sequential | 0.564 | – |" in text
    assert "| retrieval | hybrid | – |" in text and "| repeats | 3 | – |" in text
    assert "| baseline import only ms | 3,012 | – |" in text  # a baseline with no figure of that name stands alone
    assert "| Path | ttft ms | total ms | tokens per s | baseline tokens per s |" in text
    assert "| Prompt | 35.2 | 260 | 190 | 274 |" in text
    assert "| RAG | 80.0 | 80.0 | 0.000 | – |" in text


def test_bench_baselines_object_and_nested_scalars():
    text = render_results(None, {"date": "2026-12-06", "tokens_per_s": 300.0, "baselines": {"tokens_per_s": 280.0},
                                 "memory": {"peak_mb": 700.0, "peak_mb_baseline": 720.0}})
    assert "- Date: 2026-12-06" in text
    assert "| tokens per s | 300 | 280 |" in text
    assert "### memory" in text and "| peak mb | 700 | 720 |" in text


def test_describe_split_with_ties_and_nothing_right():
    result = {"paths": {"rag": {"strict": 0.5}, "lora": {"strict": 0.5}, "prompt": {"strict": 0.1}}}
    assert describe_split("eval_seen", result) == \
        "On eval_seen, RAG and LoRA are strictly right most often (0.50); then Prompt 0.10."
    nothing = {"paths": {"rag": {"strict": 0.0}}}
    assert describe_split("train", nothing) == "No path answers strictly correctly on train."
    assert describe_split("eval_unanswerable", {"unanswerable": True, "paths": {"rag": {"strict": 0.0}}}) == \
        "No path abstains on eval_unanswerable."


FRESH_DOC = {"date": "2026-12-06 05:00:00", "documents": [{"name": "brindlewick.md", "words": 174, "chunks": 5,
                                                              "searchable_s": 0.176}], "questions": 6,
             "before": {"rag": {"accuracy": 0.0, "strict": 0.0, "abstained": 0.6}},
             "after_adding": {"rag": {"accuracy": 0.9, "strict": 0.8, "abstained": 0.0}}}


def test_write_results_doc_from_files(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "eval.json").write_text(json.dumps(EVAL_DOC), encoding="utf-8")
    (results / "bench.json").write_text(json.dumps(BENCH_DOC), encoding="utf-8")
    (results / "fresh.json").write_text(json.dumps(FRESH_DOC), encoding="utf-8")
    out = write_results_doc(results / "eval.json", results / "bench.json", tmp_path / "docs" / "results.md",
                            results / "fresh.json")
    assert out.read_text(encoding="utf-8") == render_results(EVAL_DOC, BENCH_DOC, FRESH_DOC)
    assert "| brindlewick.md | 174 | 5 | 0.18 |" in out.read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["results.md"]


def test_dev_is_named_but_its_figures_are_not_reported():
    with_dev = {**EVAL_DOC, "splits": {"dev": next(iter(EVAL_DOC["splits"].values())), **EVAL_DOC["splits"]}}
    text = render_results(with_dev, None)
    assert "### dev" not in text and "dev: measured in the results file" in text
    assert text.replace("dev: measured in the results file for the recipes' choices, not reported here.\n\n", "") \
        == render_results(EVAL_DOC, None)


def test_real_documents_get_their_own_section_after_fresh_knowledge(tmp_path: Path):
    (tmp_path / "real.json").write_text(json.dumps(FRESH_DOC), encoding="utf-8")
    out = write_results_doc(tmp_path / "eval.json", tmp_path / "bench.json", tmp_path / "results.md",
                            tmp_path / "fresh.json", tmp_path / "real.json")
    text = out.read_text(encoding="utf-8")
    assert text.index("## Fresh knowledge") < text.index("## Real documents added live")
    real = text[text.index("## Real documents added live"):]
    assert "tests/data/real" in real and "| brindlewick.md | 174 | 5 | 0.18 |" in real
    missing = write_results_doc(tmp_path / "eval.json", tmp_path / "bench.json", tmp_path / "r.md",
                                tmp_path / "fresh.json", tmp_path / "none.json").read_text(encoding="utf-8")
    assert "## Real documents added live" in missing and "none.json: not found" in missing


def test_missing_and_malformed_files_become_a_line(tmp_path: Path):
    (tmp_path / "bench.json").write_text("{\"paths\": ", encoding="utf-8")
    out = write_results_doc(tmp_path / "eval.json", tmp_path / "bench.json", tmp_path / "results.md",
                            tmp_path / "fresh.json")
    text = out.read_text(encoding="utf-8")
    assert f"Not measured yet: {tmp_path / 'eval.json'}: not found; run `{EVAL_COMMAND}`." in text
    assert f"{tmp_path / 'bench.json'}: not valid JSON" in text and f"run `{BENCH_COMMAND}` to remake it" in text


def test_loaders_say_how_to_make_the_file(tmp_path: Path):
    with pytest.raises(FourpathsError, match="not found; run `fourpaths eval --all"):
        load_eval_results(tmp_path / "eval.json")
    (tmp_path / "eval.json").write_text(json.dumps(BENCH_DOC), encoding="utf-8")
    with pytest.raises(FourpathsError, match="no \"splits\" object"):
        load_eval_results(tmp_path / "eval.json")
    (tmp_path / "bench.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(FourpathsError, match="expected a JSON object; run `fourpaths bench"):
        load_bench_results(tmp_path / "bench.json")
    assert load_eval_results(_write(tmp_path / "ok.json", EVAL_DOC))["splits"]["eval_seen"]["n"] == 135


def test_results_doc_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, fourpaths.measure.results_doc; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_hand_written_set_is_shown_per_kind_of_question():
    figures = {"prompt": {"strict": 0.0}, "rag": {"strict": 0.5}}
    split = {"n": 3, "paths": figures, "items": [],
             "groups": {"docs": {"n": 2, "paths": {"prompt": {"strict": 0.0}, "rag": {"strict": 0.5}}},
                        "none": {"n": 1, "paths": {"prompt": {"strict": 1.0}, "rag": {"strict": 0.0}}}}}
    text = render_results({"splits": {"eval_natural": split}}, None, None)
    assert "| facts from docs/ | 2 | 0.000 | 0.500 |" in text
    assert "| no document answers (right: abstaining) | 1 | 1.000 | 0.000 |" in text
