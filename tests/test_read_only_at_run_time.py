"""What ships is read-only at run time (issue 28): index/ and results/ are written by `fourpaths index` and the
measuring commands alone. A corpus_root pointed elsewhere is indexed in the user's cache, never in index/; the
shipped index serves only the corpus, embedder and chunking it was built from."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fourpaths.answering.workspace import Workspace
from fourpaths.config import PROJECT_ROOT, Settings

SHIPPED = ("index", "results")


def digest(folder: Path) -> str:
    """The names and bytes of every file under the folder."""
    hashed = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hashed.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return hashed.hexdigest()


@pytest.fixture
def shipped_unchanged():
    before = {name: digest(PROJECT_ROOT / name) for name in SHIPPED}
    yield
    assert {name: digest(PROJECT_ROOT / name) for name in SHIPPED} == before, "a shipped folder was written"
    if shutil.which("git") and (PROJECT_ROOT / ".git").exists():
        status = subprocess.run(["git", "status", "--porcelain", *SHIPPED], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=60)
        assert status.stdout == "", status.stdout


def test_another_corpus_is_indexed_in_the_cache_not_in_index(micro_settings, small_corpus, own_cache,
                                                              shipped_unchanged):
    settings = replace(micro_settings, index_dir=Settings.index_dir)  # the shipped index/, as a default run has
    workspace = Workspace(settings)
    assert workspace.ships_index()
    index = workspace.index()
    assert {chunk.source for chunk in index.chunks} == {
        f"{folder}/{path.name}" for folder in ("docs", "updates") for path in (small_corpus / folder).glob("*.md")}
    assert workspace.index_rebuilt
    built = [path.parent for path in own_cache.rglob("manifest.json")]
    assert len(built) == 1 and (own_cache / "fourpaths" / "index") in built[0].parents
    assert Workspace(settings).index() is index  # found again, current


def test_cli_ask_with_another_corpus_leaves_git_status_clean(micro_env, small_corpus, monkeypatch, shipped_unchanged):
    env = {key: value for key, value in os.environ.items() if key != "FOURPATHS_INDEX_DIR"}
    done = subprocess.run([sys.executable, "-m", "fourpaths.cli", "ask", "How many days of annual leave?", "--paths",
                           "rag", "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert '"source": "docs/hr-annual-leave-policy.md"' in done.stdout


def test_fourpaths_index_refuses_to_index_another_corpus_into_the_shipped_index(micro_env, shipped_unchanged):
    env = {key: value for key, value in os.environ.items() if key != "FOURPATHS_INDEX_DIR"}
    done = subprocess.run([sys.executable, "-m", "fourpaths.cli", "index"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"fourpaths: error: index_dir is the shipped {PROJECT_ROOT / 'index'}, but corpus_root is "
        f"{os.environ['FOURPATHS_CORPUS_ROOT']}: set FOURPATHS_INDEX_DIR to a folder for that corpus's index"]


def test_the_shipped_index_serves_the_shipped_corpus_without_a_write(shipped_unchanged):
    workspace = Workspace(Settings())
    index = workspace.index()
    assert not workspace.index_rebuilt and len(index) > 1000
