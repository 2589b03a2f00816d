"""The RAG search index, on a tiny real corpus with the real MiniLM embedder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import QUESTIONS, write_corpus

from fourpaths.config import Settings
from fourpaths.errors import FourpathsError
from fourpaths.retrieval import embedder as embedder_module
from fourpaths.retrieval import index as retrieval
from fourpaths.retrieval.corpus import (
    Document,
    chunk_document,
    corpus_fingerprint,
    load_documents,
)
from fourpaths.retrieval.embedder import embed_texts, load_embedder, resolve_embedder_location
from fourpaths.retrieval.index import (
    Hit,
    SearchIndex,
    open_index,
    read_manifest,
    retrieval_hit,
)
from fourpaths.retrieval.sentences import unique_sentences

INDEX_FILES = {"index.faiss", "chunks.jsonl", "sentences.npy", "manifest.json"}




@pytest.fixture(scope="module")
def embedder():
    return load_embedder(None)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def built(corpus: Path, embedder) -> SearchIndex:
    chunks = [chunk for document in load_documents(corpus) for chunk in chunk_document(document)]
    return SearchIndex.build(chunks, embedder, embedder_location=resolve_embedder_location(None))


def top_sources(index: SearchIndex, k: int = 1) -> dict[str, list[str]]:
    results = index.search_many(list(QUESTIONS), k)
    return {question: [hit.source for hit in hits] for question, hits in zip(QUESTIONS, results)}


# ---------------------------------------------------------------------------
# Embedder


def test_embedder_is_loaded_once_and_shared(embedder):
    assert load_embedder(None) is embedder
    assert load_embedder("") is embedder
    assert load_embedder(resolve_embedder_location(None)) is embedder


def test_missing_embedder_folder_is_a_one_line_error(tmp_path: Path, monkeypatch):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FourpathsError) as caught:
        load_embedder(str(missing))
    message = str(caught.value)
    assert str(missing) in message and "\n" not in message
    assert str(missing) not in embedder_module._EMBEDDERS
    # A relative name that looks like a hub id is still a folder: it fails at once, with no network retries.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FourpathsError, match="owner/model: embedder folder not found"):
        load_embedder("owner/model")


def test_broken_embedder_folder_is_a_one_line_error(tmp_path: Path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(FourpathsError) as caught:
        load_embedder(broken)
    assert str(broken) in str(caught.value) and "\n" not in str(caught.value)


# ---------------------------------------------------------------------------
# Searching


def test_search_ranks_the_right_document_first(built: SearchIndex):
    for question, source in QUESTIONS.items():
        hits = built.search(question, k=3)
        assert hits[0].source == source, (question, hits)
        assert all(isinstance(hit, Hit) for hit in hits)
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
        assert -1.0 <= hits[-1].score <= hits[0].score <= 1.0 + 1e-5
        assert retrieval_hit(hits, source)
    assert not retrieval_hit(built.search("When does the staff canteen serve lunch?", k=1), "docs/policy-holidays.md")


def test_search_many_matches_search(built: SearchIndex):
    many = built.search_many(list(QUESTIONS), 2)
    for question, hits in zip(QUESTIONS, many):
        single = built.search(question, 2)
        assert [(h.source, h.chunk_index) for h in hits] == [(h.source, h.chunk_index) for h in single]
        assert [h.score for h in hits] == pytest.approx([h.score for h in single], abs=1e-5)
    assert built.search_many([], 3) == []


def test_k_larger_than_the_index_returns_every_chunk(built: SearchIndex, embedder):
    hits = built.search("battery", k=1000)
    assert len(hits) == len(built)
    assert {(h.source, h.chunk_index) for h in hits} == {(c.source, c.index) for c in built.chunks}
    assert built.search("battery", k=0) == []
    empty = SearchIndex.build([], embedder)
    assert len(empty) == 0 and empty.search("anything", k=5) == []
    assert empty.search_many(["a", "b"], 5) == [[], []]


def test_vectors_are_unit_length(built: SearchIndex):
    assert built.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(built.vectors, axis=1), 1.0, atol=1e-5)


def test_build_reports_progress(corpus: Path, embedder):
    chunks = [chunk for document in load_documents(corpus) for chunk in chunk_document(document)]
    calls: list[tuple[int, int]] = []
    index = SearchIndex.build(chunks, embedder, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert len(index) == len(chunks) > 2  # several batches of 2
    texts = len(chunks) + len(unique_sentences(chunk.text for chunk in chunks))  # the chunks, then their sentences
    assert calls[0] == (0, texts) and calls[-1] == (texts, texts)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# ---------------------------------------------------------------------------
# Persistence and staleness


def test_open_index_persists_and_reloads_without_re_embedding(corpus: Path, tmp_path: Path, monkeypatch):
    index_dir = tmp_path / "index"
    calls: list[tuple[int, int]] = []
    first, rebuilt = open_index(corpus, index_dir, None, progress=lambda d, t: calls.append((d, t)))
    assert rebuilt and calls
    assert {p.name for p in index_dir.iterdir()} == INDEX_FILES
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["fingerprint"] == corpus_fingerprint(corpus)
    assert manifest["embedder"] == resolve_embedder_location(None)
    assert manifest["chunking"] == {"max_words": Settings.chunk_words, "overlap_words": Settings.chunk_overlap}
    assert manifest["count"] == len(first) and manifest["dimension"] == 384
    assert manifest["format"] == retrieval.MANIFEST_FORMAT
    assert manifest["build_seconds"] >= 0

    def no_build(*args, **kwargs):
        raise AssertionError("the saved index should have been reused")

    monkeypatch.setattr(SearchIndex, "build", no_build)
    calls.clear()
    second, rebuilt = open_index(corpus, index_dir, "", progress=lambda d, t: calls.append((d, t)))
    assert not rebuilt and not calls
    assert second.chunks == first.chunks
    assert np.allclose(second.vectors, first.vectors)
    assert top_sources(second, 3) == top_sources(first, 3)


def test_an_index_moved_with_its_embedder_to_other_paths_is_still_current(corpus: Path, tmp_path: Path,
                                                                         monkeypatch):
    """How the shipped index/ opens on another machine: the corpus and the embedder lie elsewhere, with the
    same files; a changed embedder file makes it stale."""
    built_here = tmp_path / "built"
    open_index(corpus, built_here, None)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(corpus, elsewhere / "corpus")
    shutil.copytree(built_here, elsewhere / "index")
    embedder = shutil.copytree(resolve_embedder_location(None), elsewhere / "embedder")

    def no_build(*args, **kwargs):
        raise AssertionError("the moved index should have been reused")

    with monkeypatch.context() as patched:
        patched.setattr(SearchIndex, "build", no_build)
        moved, rebuilt = open_index(elsewhere / "corpus", elsewhere / "index", str(embedder))
    assert not rebuilt and len(moved) > 0
    assert moved.embedder_location == str(embedder.resolve())  # not the path it was built with

    (embedder / "config.json").write_text((embedder / "config.json").read_text() + "\n")
    assert open_index(elsewhere / "corpus", elsewhere / "index", str(embedder))[1], "a changed embedder reused it"


def test_an_index_of_another_format_is_rebuilt(corpus: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    open_index(corpus, index_dir, None)
    manifest = read_manifest(index_dir)
    (index_dir / "manifest.json").write_text(json.dumps({**manifest, "format": 3}), encoding="utf-8")
    _, rebuilt = open_index(corpus, index_dir, None)
    assert rebuilt
    assert {p.name for p in index_dir.iterdir()} == INDEX_FILES
    assert read_manifest(index_dir)["format"] == retrieval.MANIFEST_FORMAT


def test_changed_settings_trigger_a_rebuild(corpus: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    open_index(corpus, index_dir, None)
    _, rebuilt = open_index(corpus, index_dir, None, max_words=40, overlap_words=10)
    assert rebuilt
    assert read_manifest(index_dir)["chunking"] == {"max_words": 40, "overlap_words": 10}


def test_editing_a_document_triggers_a_rebuild(corpus: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    open_index(corpus, index_dir, None)
    before = corpus_fingerprint(corpus)
    canteen = corpus / "docs" / "office-canteen.md"
    canteen.write_text(
        canteen.read_text() + "\nThe canteen also runs a sushi bar every Friday afternoon.\n", encoding="utf-8"
    )
    assert corpus_fingerprint(corpus) != before
    index, rebuilt = open_index(corpus, index_dir, None)
    assert rebuilt
    assert read_manifest(index_dir)["fingerprint"] == corpus_fingerprint(corpus)
    assert index.search("Which day is there a sushi bar?", 1)[0].source == "docs/office-canteen.md"
    assert "sushi" in " ".join(hit.text for hit in index.search("sushi bar Friday", 2))


def test_damaged_index_is_rebuilt(corpus: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    open_index(corpus, index_dir, None)
    (index_dir / "chunks.jsonl").write_text("", encoding="utf-8")  # now disagrees with index.faiss
    with pytest.raises(FourpathsError, match="disagree"):
        SearchIndex.load(index_dir)
    index, rebuilt = open_index(corpus, index_dir, None)
    assert rebuilt and len(SearchIndex.load(index_dir)) == len(index) > 0


def test_concurrent_opens_build_once(corpus: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    results: list[bool] = []

    def worker():
        results.append(open_index(corpus, index_dir, None)[1])

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]


# ---------------------------------------------------------------------------
# Changing an index


def test_add_documents_and_remove_source_survive_save_and_load(built: SearchIndex, tmp_path: Path, monkeypatch):
    new_doc = Document(
        name="update-parking.md",
        path=tmp_path / "update-parking.md",
        text="# Parking\n\nThe car park behind the Leeds office now has twelve electric vehicle chargers.\n",
        collection="updates",
    )
    question = "How many electric vehicle chargers are in the car park?"
    size = len(built)
    added = built.add_documents([new_doc])
    assert added == len(built) - size > 0
    assert built.fingerprint is None  # no longer known to match a corpus on disk
    assert built.search(question, 1)[0].source == "updates/update-parking.md"

    # Re-adding a source replaces its chunks instead of duplicating them.
    assert built.add_documents([new_doc]) == added and len(built) == size + added

    built.save(tmp_path / "index")
    loaded = SearchIndex.load(tmp_path / "index")
    assert loaded.search(question, 1)[0].source == "updates/update-parking.md"
    assert len(loaded) == size + added

    kept_before = {
        (c.source, c.index): v for c, v in zip(loaded.chunks, loaded.vectors) if c.source != "docs/policy-holidays.md"
    }
    monkeypatch.setattr(retrieval, "embed_texts", _no_embedding)  # removal must not re-embed
    removed = loaded.remove_source("docs/policy-holidays.md")
    assert removed > 0 and "docs/policy-holidays.md" not in loaded.sources
    assert loaded.remove_source("docs/no-such-doc.md") == 0
    kept_after = {(c.source, c.index): v for c, v in zip(loaded.chunks, loaded.vectors)}
    assert kept_after.keys() == kept_before.keys()
    assert all(np.array_equal(kept_after[key], kept_before[key]) for key in kept_after)
    monkeypatch.undo()

    loaded.save(tmp_path / "index")
    again = SearchIndex.load(tmp_path / "index")
    assert "docs/policy-holidays.md" not in again.sources
    hits = again.search("How many days of paid annual leave do employees get?", k=100)
    assert len(hits) == len(again) and not retrieval_hit(hits, "docs/policy-holidays.md")
    assert again.search(question, 1)[0].source == "updates/update-parking.md"


def test_the_sentence_table_gives_what_embedding_gives_and_follows_changes(built: SearchIndex, embedder,
                                                                         tmp_path: Path, monkeypatch):
    """The reader's sentence cosines come from the table built with the index: the same vectors as embedding the
    sentence now, none embedded again when asked for, through adding, removing, saving and loading."""
    sentences = unique_sentences(chunk.text for chunk in built.chunks)
    assert len(built.sentence_vectors) == len(sentences) > len(built.chunks) // 2
    assert np.allclose(built.embed_sentences(sentences[:5]), embed_texts(embedder, sentences[:5]), atol=1e-5)
    question = "How many electric vehicle chargers are in the car park?"
    mixed = built.embed_sentences([question, sentences[3]])  # a text not in the table is embedded
    assert np.allclose(mixed, embed_texts(embedder, [question, sentences[3]]), atol=1e-5)

    new = "The car park behind the Leeds office now has twelve electric vehicle chargers."
    built.add_documents([Document(name="update-parking.md", path=tmp_path / "update-parking.md",
                                  text=f"# Parking\n\n{new}\n", collection="updates")])
    built.remove_source("docs/policy-holidays.md")
    holidays = [text for text in sentences if "annual leave" in text]
    assert holidays and not any(text in built.sentences for text in holidays)  # gone with their document
    built.save(tmp_path / "index")
    loaded = SearchIndex.load(tmp_path / "index")
    monkeypatch.setattr(retrieval, "embed_texts", _no_embedding)
    kept = unique_sentences(chunk.text for chunk in loaded.chunks)
    parking = [text for text in kept if new in text]  # the chunk puts its heading in front
    assert parking and loaded.embed_sentences(kept).shape == (len(kept), loaded.dimension)
    assert np.allclose(loaded.embed_sentences(parking), built.embed_sentences(parking))


def test_a_sentence_table_that_disagrees_with_the_chunks_is_refused(corpus: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    open_index(corpus, index_dir, None)
    table = np.load(index_dir / "sentences.npy")
    np.save(index_dir / "sentences.npy", table[:-1])
    with pytest.raises(FourpathsError, match="disagree"):
        SearchIndex.load(index_dir)
    np.save(index_dir / "sentences.npy", table * 3)
    with pytest.raises(FourpathsError, match="damaged"):
        SearchIndex.load(index_dir)
    (index_dir / "sentences.npy").write_bytes(b"not an array")
    with pytest.raises(FourpathsError, match="unreadable"):
        SearchIndex.load(index_dir)
    assert open_index(corpus, index_dir, None)[1]  # and open_index builds it again


def _no_embedding(*args, **kwargs):
    raise AssertionError("nothing should be embedded here")


def test_add_documents_refuses_other_chunk_settings(built: SearchIndex, tmp_path: Path):
    doc = Document("x.md", tmp_path / "x.md", "# X\n\nSome text.\n", "updates")
    with pytest.raises(ValueError, match="max_words"):
        built.add_documents([doc], max_words=Settings.chunk_words - 10)


# ---------------------------------------------------------------------------
# Atomic writes


# A save in a process of its own whose files may grow to only `limit` bytes (RLIMIT_FSIZE; Python ignores
# SIGXFSZ, so an over-long write fails with EFBIG, as on a full disk).
_SAVE_UNDER_LIMIT = """
import resource, sys
from fourpaths.errors import FourpathsError
from fourpaths.retrieval.index import SearchIndex
folder, limit = sys.argv[1], int(sys.argv[2])
index = SearchIndex.load(folder)
index.remove_source("docs/office-canteen.md")
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    index.save(folder)
except FourpathsError as error:
    print(error)
    sys.exit(3)
"""


def test_a_save_that_runs_out_of_room_keeps_the_previous_index(built: SearchIndex, tmp_path: Path):
    folder = tmp_path / "index"
    built.save(folder)
    before = {name: (folder / name).read_bytes() for name in INDEX_FILES}
    limit = len(before["index.faiss"]) // 2  # room for the chunks, not for the vectors
    result = subprocess.run([sys.executable, "-c", _SAVE_UNDER_LIMIT, str(folder), str(limit)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    message = result.stdout.strip()
    assert str(folder) in message and "File too large" in message and "unchanged" in message, message
    assert {name: (folder / name).read_bytes() for name in INDEX_FILES} == before
    assert len(SearchIndex.load(folder)) == len(built)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".index.tmp")) == []


def test_a_folder_of_other_files_is_never_replaced(built: SearchIndex, tmp_path: Path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.md").write_text("not an index", encoding="utf-8")
    with pytest.raises(FourpathsError, match="not a search index"):
        built.save(folder)
    assert [p.name for p in folder.iterdir()] == ["mine.md"]


def test_crash_between_renames_is_recovered(built: SearchIndex, tmp_path: Path):
    folder = tmp_path / "index"
    built.save(folder)
    folder.rename(tmp_path / "index.old")  # the moment after the old index moved aside
    assert len(SearchIndex.load(folder)) == len(built)
    built.remove_source("docs/office-canteen.md")
    built.save(folder)
    assert not (tmp_path / "index.old").exists()
    assert len(SearchIndex.load(folder)) == len(built)
