"""Proof that "any model" is true: for each architecture users point fourpaths at (Llama, Qwen2, GPT-2, T5,
BERT2BERT), a tiny random model of it serves all four paths, as the base, with a LoRA adapter the recipe
trained on it, and generating from retrieved passages, through the CLI and through the Compare page."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest
from tiny_models import ARCHITECTURES

from fourpaths.cli import main
from fourpaths.config import PROJECT_ROOT

PATHS = ("prompt", "lora", "rag", "scratch")
QUESTION = "How many days of annual leave does a Quillmoor employee get?"


@pytest.fixture
def tiny_env(request, tiny_lora_models, small_corpus, warm_index, micro_settings, monkeypatch):
    made = tiny_lora_models(request.param)
    for name, value in {"base_model": made["base"], "lora_adapter": made["lora"], "scratch_model": made["base"],
                        "corpus_root": small_corpus, "index_dir": micro_settings.index_dir, "max_new_tokens": 6,
                        "rag_answer": "generated", "top_k_passages": 2}.items():
        monkeypatch.setenv(f"FOURPATHS_{name.upper()}", str(value))
    return made


@pytest.mark.parametrize("tiny_env", ARCHITECTURES, indirect=True)
def test_every_path_answers_through_the_cli(tiny_env, capsys):
    assert main(["ask", QUESTION, "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert set(answers) == set(PATHS)
    for path_id, answer in answers.items():
        assert "error" not in answer, (path_id, answer)
        assert answer["mode"] == "generated" and answer["new_tokens"] >= 1
    assert answers["lora"]["facts"]["adapter"] == str(tiny_env["lora"])
    assert answers["rag"]["sources"], "the RAG answer cites what it retrieved"


@pytest.mark.parametrize("tiny_env", ARCHITECTURES, indirect=True)
def test_every_path_answers_on_the_compare_page(tiny_env, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=300)
    at.run()
    at.text_area[0].input(QUESTION)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert len([c for c in at.caption if c.value.startswith("Answer by: ")]) == 4  # each column's timings


def test_a_decoder_without_chat_template_is_refused_in_its_column(tmp_path, small_corpus, warm_index, micro_settings,
                                                                 monkeypatch, capsys):
    from tiny_models import build
    from transformers import AutoTokenizer

    folder = build("gpt2", tmp_path / "gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    monkeypatch.setenv("FOURPATHS_BASE_MODEL", str(folder))
    monkeypatch.setenv("FOURPATHS_CORPUS_ROOT", str(small_corpus))
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", micro_settings.index_dir)
    capsys.readouterr()  # what the fixtures printed while training
    assert main(["ask", QUESTION, "--json", "--paths", "prompt"]) == 1
    captured = capsys.readouterr()
    assert f"model {folder} has no chat template" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
