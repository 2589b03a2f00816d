"""What the repository ships: a corpus that passes its own check, and models within their limits."""

from __future__ import annotations

import json

import pytest

from fourpaths.config import PROJECT_ROOT, Settings
from fourpaths.retrieval.corpus import corpus_fingerprint
from fourpaths.retrieval.corpus_check import check_corpus
from fourpaths.retrieval.embedder import resolve_embedder_location
from fourpaths.retrieval.index import (
    CHUNKS_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    SENTENCES_FILE,
    manifest_matches,
    read_manifest,
)

MODELS = PROJECT_ROOT / "models"


def test_shipped_corpus_passes_every_rule():
    assert check_corpus(PROJECT_ROOT / "corpus") == []


def test_shipped_index_is_current_for_the_shipped_corpus_and_embedder():
    """index/ ships built so that a fresh app need not embed the corpus first; after a corpus edit, run
    `fourpaths index` and commit index/ with it."""
    settings = Settings()  # the defaults, whatever a local config file says
    manifest = read_manifest(PROJECT_ROOT / settings.index_dir)
    assert manifest is not None, "index/ is missing: run `fourpaths index`"
    assert manifest_matches(manifest, corpus_fingerprint(PROJECT_ROOT / "corpus"), resolve_embedder_location(None),
                            settings.chunk_words, settings.chunk_overlap), "index/ is stale: run `fourpaths index`"
    shipped = {p.name for p in (PROJECT_ROOT / settings.index_dir).iterdir()}
    assert shipped == {INDEX_FILE, CHUNKS_FILE, SENTENCES_FILE, MANIFEST_FILE}, "index/ holds leftovers: rebuild it"


def test_models_folder_is_small_and_has_no_pickles():
    files = [p for p in MODELS.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 100 * 1024 * 1024
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".pickle"}]


@pytest.mark.parametrize("name, weights", [("base", "model.safetensors"), ("lora", "adapter_model.safetensors"),
                                           ("scratch", "model.safetensors")])
def test_each_shipped_model_has_weights_a_card_and_its_command(name, weights):
    folder = MODELS / name
    if not folder.exists():
        pytest.fail(f"models/{name} is missing: run its recipe (see README)")
    assert (folder / weights).exists()
    card = (folder / "README.md").read_text()
    assert f"fourpaths train {name}" in card
    summary = json.loads((folder / "training_summary.json").read_text())
    assert summary["steps"] > 0 and summary["train_seconds"] > 0


def test_shipped_scratch_model_is_within_five_million_parameters():
    summary = json.loads((MODELS / "scratch" / "training_summary.json").read_text())
    assert summary["parameters"] <= 5_000_000


def test_shipped_base_is_within_forty_million_parameters():
    summary = json.loads((MODELS / "base" / "training_summary.json").read_text())
    assert summary["parameters"] <= 40_000_000
