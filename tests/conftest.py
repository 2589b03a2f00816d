"""Shared fixtures: real models, trained by the project's own recipes on their micro presets in seconds."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fourpaths.config import PROJECT_ROOT, Settings

torch.set_num_threads(1)  # tests share a 2-core machine with whatever else runs; oversubscription costs more

SMALL_CORPUS_DOCS = ("hr-annual-leave-policy.md", "product-ferret-amr.md", "it-passwords-and-mfa.md")
SMALL_CORPUS_UPDATES = ("update-2026-loomwork-price-change.md",)


def _small_corpus(root: Path) -> Path:
    """Four real documents and the questions that cite them: small enough to index in a few seconds."""
    import json

    source = PROJECT_ROOT / "corpus"
    for folder, names in (("docs", SMALL_CORPUS_DOCS), ("updates", SMALL_CORPUS_UPDATES)):
        (root / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(source / folder / name, root / folder / name)
    (root / "qa").mkdir()
    kept = {f"docs/{n}" for n in SMALL_CORPUS_DOCS} | {f"updates/{n}" for n in SMALL_CORPUS_UPDATES}
    for split in ("train", "eval_seen", "eval_unseen"):
        lines = (source / "qa" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        chosen = [line for line in lines if line.strip() and json.loads(line)["source"] in kept]
        (root / "qa" / f"{split}.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    return _small_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def micro_models(tmp_path_factory, small_corpus) -> dict[str, Path]:
    """The shipped set of models in miniature, each made by its real recipe on its micro preset: a base, an
    answer-head LoRA adapter, an extractive reader and a tiny model from scratch; also a generative LoRA adapter
    on the base."""
    from fourpaths.training.answer_head import train_answer_head
    from fourpaths.training.base import train_base
    from fourpaths.training.lora import train_lora
    from fourpaths.training.reader import train_reader
    from fourpaths.training.scratch import train_scratch

    root = tmp_path_factory.mktemp("models")
    quiet = lambda *_: None  # noqa: E731
    train_base(root / "base", root / "runs" / "base", preset="micro", eval_size=2)
    train_answer_head(small_corpus, root / "lora", root / "runs" / "lora", preset="micro", progress=quiet)
    train_reader(root / "reader", root / "runs" / "reader", preset="micro", progress=quiet)
    train_scratch(small_corpus, root / "scratch", root / "runs" / "scratch", preset="micro", recall_limit=2)
    train_lora(str(root / "base"), small_corpus, root / "lora-generative", root / "runs" / "lora-generative",
               preset="micro", recall_limit=2)
    return {name: root / name for name in ("base", "lora", "reader", "scratch", "lora-generative")} | {"root": root}


@pytest.fixture(scope="session")
def micro_settings(micro_models, small_corpus, tmp_path_factory) -> Settings:
    return Settings(base_model=str(micro_models["base"]), lora_adapter=str(micro_models["lora"]),
                    reader_model=str(micro_models["reader"]), scratch_model=str(micro_models["scratch"]),
                    corpus_root=str(small_corpus), index_dir=str(tmp_path_factory.mktemp("index")), max_new_tokens=8)


@pytest.fixture(scope="session")
def warm_index(micro_settings) -> None:
    """Build the small corpus's index once, so page and browser tests time answers, not the first build."""
    from fourpaths.answering.workspace import Workspace

    Workspace(micro_settings).index()


@pytest.fixture
def micro_env(micro_settings, warm_index, monkeypatch, tmp_path) -> Settings:
    """The same settings as environment variables, for code that reads them itself (CLI, app, subprocesses);
    results go to a folder of the test's own, never the shipped results/."""
    for name in ("base_model", "lora_adapter", "reader_model", "scratch_model", "corpus_root", "index_dir",
                 "max_new_tokens"):
        monkeypatch.setenv(f"FOURPATHS_{name.upper()}", str(getattr(micro_settings, name)))
    monkeypatch.setenv("FOURPATHS_RESULTS_DIR", str(tmp_path / "results"))
    return micro_settings


def settings_with(settings: Settings, **changes) -> Settings:
    return replace(settings, **changes)


@pytest.fixture(scope="session")
def tiny_lora_models(tmp_path_factory, small_corpus):
    """A function of an architecture in tiny_models.ARCHITECTURES: a tiny random model of it and a generative
    LoRA adapter the recipe trained on it (micro preset), made on first use and kept for the session."""
    from tiny_models import build

    from fourpaths.training.lora import train_lora

    root = tmp_path_factory.mktemp("tiny-lora")
    made: dict[str, dict[str, Path]] = {}

    def model_and_adapter(architecture: str) -> dict[str, Path]:
        if architecture not in made:
            base = build(architecture, root / architecture)
            train_lora(str(base), small_corpus, root / f"{architecture}-lora", root / "runs" / architecture,
                       preset="micro", recall_limit=2)
            made[architecture] = {"base": base, "lora": root / f"{architecture}-lora"}
        return made[architecture]

    return model_and_adapter


@pytest.fixture(scope="session")
def micro_encoder_models(tiny_lora_models) -> dict[str, Path]:
    """A tiny BERT2BERT EncoderDecoderModel (all-MiniLM-L6-v2's tokenizer) and a generative LoRA adapter the
    recipe trained on it."""
    return tiny_lora_models("bert2bert")
