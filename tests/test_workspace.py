"""The shared workspace: one search index per corpus, reused until a document really changes."""

from __future__ import annotations

import os
import shutil

from fourpaths.answering.workspace import Workspace
from fourpaths.config import Settings


def test_index_is_reused_until_a_document_changes(small_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus)
    workspace = Workspace(Settings(corpus_root=str(corpus), index_dir=str(tmp_path / "index")))
    first = workspace.index()
    assert workspace.index() is first

    document = next((corpus / "docs").glob("*.md"))
    stat = document.stat()
    os.utime(document, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same bytes
    assert workspace.index() is first

    document.write_text(document.read_text(encoding="utf-8") + "\nThe canteen now opens at seven.\n", encoding="utf-8")
    second = workspace.index()
    assert second is not first and workspace.index_rebuilt
    assert any("canteen now opens at seven" in chunk.text for chunk in second.chunks)


def test_hybrid_and_dense_searchers_share_one_index(small_corpus, tmp_path):
    settings = Settings(corpus_root=str(small_corpus), index_dir=str(tmp_path / "index"))
    hybrid = Workspace(settings).searcher()
    dense = Workspace(Settings(corpus_root=str(small_corpus), index_dir=str(tmp_path / "index"),
                               retrieval="dense")).searcher()
    assert hybrid.index is dense
    assert Workspace(settings).searcher() is hybrid


def test_the_adapters_own_config_says_whether_it_is_an_answer_head(micro_settings, micro_models, tmp_path):
    from dataclasses import replace

    head = Workspace(micro_settings)
    assert head.lora_is_answer_head()
    assert head.base().adapter_location is None  # the answer head is not attached to the base
    generative = Workspace(replace(micro_settings, lora_adapter=str(micro_models["lora-generative"])))
    assert not generative.lora_is_answer_head()
    assert generative.base().adapter_location == str(micro_models["lora-generative"])
    missing = Workspace(replace(micro_settings, lora_adapter=str(tmp_path / "missing")))
    assert not missing.lora_is_answer_head()
    assert "adapter" in missing.base().adapter_error  # kept for the LoRA path to report; the base still serves


def test_an_unreadable_adapter_config_fails_the_lora_path_alone(micro_settings, micro_models, tmp_path):
    from dataclasses import replace

    import pytest

    from fourpaths.answering.pipeline import ask
    from fourpaths.errors import FourpathsError
    from fourpaths.types import Trace

    adapter = shutil.copytree(micro_models["lora-generative"], tmp_path / "adapter")
    (adapter / "adapter_config.json").write_text("{not json")
    settings = replace(micro_settings, lora_adapter=str(adapter))
    with pytest.raises(FourpathsError, match="cannot read adapter config"):
        Workspace(settings).lora_is_answer_head()
    results = ask("How many days of annual leave do employees get?", settings, ["prompt", "lora"])
    assert isinstance(results["prompt"], Trace), results["prompt"]
    assert isinstance(results["lora"], str) and str(adapter) in results["lora"] and "\n" not in results["lora"]


def test_preload_loads_every_model_and_names_each_broken_one_in_a_line(micro_settings, tmp_path):
    from dataclasses import replace

    settings = replace(micro_settings, scratch_model=str(tmp_path / "no-scratch"),
                       lora_adapter=str(tmp_path / "no-adapter"))
    steps = []
    problems = Workspace(settings).preload(lambda done, total, what: steps.append((done, total, what)))
    assert steps[0][0] == 0 and steps[-1][:2] == (steps[-1][1], steps[-1][1]) and len(steps) == steps[-1][1] + 1
    assert len(problems) == 2 and all("\n" not in problem for problem in problems), problems
    assert problems[0].startswith("the scratch model: ") and str(tmp_path / "no-scratch") in problems[0]
    assert problems[1].startswith("the LoRA adapter: ") and str(tmp_path / "no-adapter") in problems[1]
    assert Workspace(micro_settings).preload() == []
