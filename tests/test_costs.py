"""What each path cost to build, read from the training summaries the recipes wrote for the micro models."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fourpaths.errors import FourpathsError
from fourpaths.measure.results_doc import BENCH_COMMAND
from fourpaths.training.summary import read_training_summary
from fourpaths.views import costs

BENCH = {"date": "2026-12-06 10:00:00", "machine": "x86_64 Linux, 2 torch threads", "peak_rss_mb": 812.5,
         "baseline_rss_after_imports_mb": 640.0, "concurrent_over_sequential": 0.61,
         "paths": {"prompt": {"mode": "generated", "answer_ms": 210.0, "tokens_per_s": 190.5,
                              "baseline_generate_tokens_per_s": 201.0, "over_baseline": 0.948},
                   "lora": {"mode": "extracted", "answer_ms": 12.0, "tokens_per_s": None,
                            "baseline_generate_tokens_per_s": None, "over_baseline": None}}}


def torch_parameters(folder: Path, kind: str) -> int:
    from transformers import AutoModelForCausalLM, AutoModelForQuestionAnswering

    loader = AutoModelForQuestionAnswering if kind == "qa" else AutoModelForCausalLM
    model = loader.from_pretrained(folder, use_safetensors=True)
    return sum(p.numel() for p in model.parameters())


def test_every_recipe_summary_reads_into_one_shape(micro_models):
    for name in ("base", "lora", "reader", "scratch"):
        summary = read_training_summary(str(micro_models[name]), with_losses=True)
        facts = costs.training_facts(summary)
        assert facts["parameters"] > 0 and facts["steps"] == summary["steps"] > 0, name
        assert facts["train_seconds"] == summary["train_seconds"] and facts["tokens"] > 0, name
        assert 0 < facts["trainable_share"] <= 1 and facts["trainable_parameters"] <= facts["parameters"], name
    head = costs.training_facts(read_training_summary(str(micro_models["lora"])))
    summary = read_training_summary(str(micro_models["lora"]))
    assert head["trainable_parameters"] == summary["trainable_parameters"] < head["parameters"]
    assert head["questions"] == summary["data"]["train_questions"] and head["machine"] == summary["machine"]
    assert costs.training_facts({}) == {}


def test_safetensors_header_counts_what_torch_counts(micro_models):
    assert costs.safetensors_parameters(micro_models["reader"]) == torch_parameters(micro_models["reader"], "qa")
    assert costs.safetensors_parameters(micro_models["scratch"]) == torch_parameters(micro_models["scratch"], "lm")
    assert costs.safetensors_parameters(micro_models["root"] / "nowhere") is None


def test_path_costs_of_the_micro_models(micro_settings, micro_models, warm_index):
    found = costs.path_costs(micro_settings)
    assert list(found) == ["prompt", "lora", "rag", "scratch"]
    for path_id, name in (("prompt", "base"), ("lora", "lora"), ("rag", "reader"), ("scratch", "scratch")):
        summary = read_training_summary(str(micro_models[name]), with_losses=True)
        assert found[path_id].facts["steps"] == summary["steps"]
        assert found[path_id].losses == [tuple(point) for point in summary["losses"]]
    rag = found["rag"]
    assert rag.embedder_parameters == costs.safetensors_parameters(costs.embedder_folder(micro_settings)) > 10**6
    assert rag.answer_parameters == rag.facts["parameters"] + rag.embedder_parameters
    manifest = json.loads((Path(micro_settings.index_dir) / "manifest.json").read_text())
    assert rag.index["chunks"] == manifest["count"] and rag.index["build_seconds"] == manifest["build_seconds"]
    line = costs.describe_cost(rag)
    assert f"{rag.facts['steps']:,} steps" in line and f"index of {manifest['count']:,} chunks" in line
    assert costs.describe_cost(found["prompt"]).startswith("Prompt: nothing trained for the path")


def test_a_missing_model_says_which_recipe_makes_it(micro_settings, tmp_path):
    settings = replace(micro_settings, reader_model=str(tmp_path / "reader"), scratch_model="")
    found = costs.path_costs(settings)
    assert found["rag"].facts == {} and "`fourpaths train reader` makes it" in found["rag"].note
    assert found["scratch"].note == "scratch_model is empty: no model configured"
    assert costs.describe_cost(found["rag"]).startswith(f"RAG: {tmp_path / 'reader'}: not trained yet")


def test_side_by_side_table(micro_settings):
    found = costs.path_costs(micro_settings)
    table = costs.cost_table(found, BENCH)
    assert list(table.index) == ["Prompt", "LoRA", "RAG", "Scratch"]
    assert table.loc["Prompt", "Answer ms"] == 210.0 and table.loc["LoRA", "Answer by"] == "extracted"
    assert table.loc["Scratch", "Steps"] == found["scratch"].facts["steps"]
    shown = costs.display_table(table)
    assert list(shown.columns) == ["Prompt", "LoRA", "RAG", "Scratch"]
    assert shown.loc["Parameters", "LoRA"] == f"{found['lora'].facts['parameters']:,}"
    lora = found["lora"].facts
    assert shown.loc["Trainable share", "LoRA"] == f"{lora['trainable_parameters'] / lora['parameters']:.1%}"
    rag = found["rag"]
    assert shown.loc["Trainable share", "RAG"] == f"{rag.facts['parameters'] / rag.answer_parameters:.1%}"
    assert shown.loc["Tokens/s", "LoRA"] == "–"
    assert "Answer ms" in shown.index and "Index chunks" in shown.index
    no_bench = costs.display_table(costs.cost_table(found))
    assert "Answer ms" not in no_bench.index  # a row empty for every path is left out


def test_loss_frame_thins_and_smooths():
    losses = [(step, 10.0 - step / 1000) for step in range(1, 2001)]
    frame = costs.loss_frame(losses, points=400, smoothing=20)
    assert 400 <= len(frame) <= 402 and frame.index[0] == 1 and frame.index[-1] == 2000
    assert frame.loc[1, "loss"] == pytest.approx(9.999)
    assert frame.loc[2000, "mean of 20 steps"] == pytest.approx(sum(10.0 - s / 1000 for s in range(1981, 2001)) / 20,
                                                                abs=1e-4)
    assert costs.loss_frame([]).empty


def test_bench_frames_and_missing_file(tmp_path, micro_settings):
    speed = costs.speed_frame(BENCH)
    assert speed.loc["Prompt", "Tokens/s"] == 190.5 and "First token ms" not in speed.columns
    assert costs.memory_figures(BENCH) == {"Peak memory, every model loaded (MB)": 812.5,
                                           "Memory after imports alone (MB)": 640.0,
                                           "Four at once / one after another (wall time)": 0.61}
    settings = replace(micro_settings, results_dir=str(tmp_path))
    with pytest.raises(FourpathsError, match=f"not found; run `{BENCH_COMMAND}`"):
        costs.load_bench(settings)
    (tmp_path / "bench.json").write_text(json.dumps({"paths": [1]}), encoding="utf-8")
    with pytest.raises(FourpathsError, match="\"paths\" is not an object"):
        costs.load_bench(settings)
