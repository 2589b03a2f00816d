"""The shared workspace: one search index per corpus, reused until a document really changes."""

from __future__ import annotations

import os
import shutil

from fourpaths.config import Settings
from fourpaths.workspace import Workspace


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
