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
    """A micro base, a micro LoRA adapter on it and a micro tiny model, each made by its real recipe."""
    from fourpaths.training.base import train_base
    from fourpaths.training.lora import train_lora
    from fourpaths.training.scratch import train_scratch

    root = tmp_path_factory.mktemp("models")
    train_base(root / "base", root / "runs" / "base", preset="micro", eval_size=2)
    train_lora(str(root / "base"), small_corpus, root / "lora", root / "runs" / "lora", preset="micro", recall_limit=2)
    train_scratch(small_corpus, root / "scratch", root / "runs" / "scratch", preset="micro", recall_limit=2)
    return {"base": root / "base", "lora": root / "lora", "scratch": root / "scratch", "root": root}


@pytest.fixture(scope="session")
def micro_settings(micro_models, small_corpus, tmp_path_factory) -> Settings:
    return Settings(base_model=str(micro_models["base"]), lora_adapter=str(micro_models["lora"]),
                    scratch_model=str(micro_models["scratch"]), corpus_root=str(small_corpus),
                    index_dir=str(tmp_path_factory.mktemp("index")), max_new_tokens=8,
                    quote_max_new_tokens=16)


@pytest.fixture(scope="session")
def warm_index(micro_settings) -> None:
    """Build the small corpus's index once, so page and browser tests time answers, not the first build."""
    from fourpaths.workspace import Workspace

    Workspace(micro_settings).index()


@pytest.fixture
def micro_env(micro_settings, warm_index, monkeypatch) -> Settings:
    """The same settings as environment variables, for code that reads them itself (CLI, app, subprocesses)."""
    for name in ("base_model", "lora_adapter", "scratch_model", "corpus_root", "index_dir", "max_new_tokens",
                 "quote_max_new_tokens"):
        monkeypatch.setenv(f"FOURPATHS_{name.upper()}", str(getattr(micro_settings, name)))
    return micro_settings


def settings_with(settings: Settings, **changes) -> Settings:
    return replace(settings, **changes)


def tiny_encoder(folder: Path) -> Path:
    """A BERT encoder 32 wide with random weights and the real all-MiniLM-L6-v2 tokenizer: the shape of the
    embedder the `from-encoder` stage starts from, small enough to train in seconds."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from fourpaths.retrieval import default_embedder_location

    tokenizer = AutoTokenizer.from_pretrained(default_embedder_location())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def micro_encoder_models(tmp_path_factory, small_corpus) -> dict[str, Path]:
    """A base made from a tiny encoder by the `from-encoder` and `encoder-reading` stages, and a LoRA adapter on
    it, by the recipes."""
    from fourpaths.training.base import train_base
    from fourpaths.training.lora import train_lora

    root = tmp_path_factory.mktemp("encoder-models")
    encoder = tiny_encoder(root / "encoder")
    train_base(root / "copier", root / "runs" / "copier", preset="micro", eval_size=1, stage="from-encoder",
               encoder=str(encoder))
    train_base(root / "base", root / "runs" / "base", preset="micro", eval_size=1, stage="encoder-reading",
               init_from=root / "copier")
    train_lora(str(root / "base"), small_corpus, root / "lora", root / "runs" / "lora", preset="micro", recall_limit=2)
    return {"base": root / "base", "lora": root / "lora", "encoder": encoder, "root": root}
