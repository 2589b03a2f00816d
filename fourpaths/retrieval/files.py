"""Writing files so that a crash leaves the old version or the new one, never half of either; and a lock per
folder across threads and processes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Iterator

# POSIX cannot rename a folder over a non-empty one, so a save moves the old folder aside to "<name>.old",
# moves the finished temp folder in, then deletes the old one. A crash between the two moves leaves only
# "<name>.old"; readers fall back to it and the next save puts it back first.


def backup_of(folder: Path) -> Path:
    return folder.with_name(folder.name + ".old")


def live_folder(folder: Path, marker: str) -> Path:
    """The folder, or its backup when a crash left only that (whole: it holds `marker`, written last)."""
    backup = backup_of(folder)
    if not folder.exists() and (backup / marker).is_file():
        return backup
    return folder


def recover_folder(folder: Path, marker: str) -> None:
    backup = backup_of(folder)
    if not folder.exists() and (backup / marker).is_file():
        os.replace(backup, folder)
    elif backup.exists():
        shutil.rmtree(backup, ignore_errors=True)


def swap_in(temp: Path, folder: Path) -> None:
    backup = backup_of(folder)
    if folder.exists():
        os.replace(folder, backup)
    os.replace(temp, folder)
    fsync_path(folder.parent)
    shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def durable_write(path: Path, binary: bool = False) -> Iterator:
    with (path.open("wb") if binary else path.open("w", encoding="utf-8")) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def fsync_path(path: Path) -> None:
    """Best effort: flush a file's or folder's metadata to disk (folders cannot be opened on Windows)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------------------
# Locking: one builder per index folder, across threads (always) and processes (where flock exists)


class _FolderLock:
    def __init__(self, lock_path: Path):
        self.lock_path = lock_path
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.handle = None

    def __enter__(self) -> "_FolderLock":
        self.thread_lock.acquire()
        if self.depth == 0:
            self.handle = _acquire_file_lock(self.lock_path)
        self.depth += 1
        return self

    def __exit__(self, *_: object) -> None:
        self.depth -= 1
        if self.depth == 0 and self.handle is not None:
            self.handle.close()  # closing releases the flock
            self.handle = None
        self.thread_lock.release()


_FOLDER_LOCKS: dict[str, _FolderLock] = {}
_FOLDER_LOCKS_GUARD = threading.Lock()


def folder_lock(folder: str | os.PathLike) -> _FolderLock:
    """A re-entrant lock for one index folder; also an advisory file lock beside it where possible."""
    folder = Path(folder).resolve()
    with _FOLDER_LOCKS_GUARD:
        lock = _FOLDER_LOCKS.get(str(folder))
        if lock is None:
            lock = _FOLDER_LOCKS[str(folder)] = _FolderLock(folder.with_name(f".{folder.name}.lock"))
        return lock


def _acquire_file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # Windows: the thread lock still serialises this process
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
    except OSError:  # e.g. a read-only index location: reading needs no lock
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    except OSError:
        handle.close()
        return None
    return handle


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write; on success it is renamed over `path`, so a reader sees the old
    file or the new one, never half of either; on failure it is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(text: str, path: str | os.PathLike) -> Path:
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomically(doc: dict, path: str | os.PathLike) -> Path:
    return write_text_atomically(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", path)


def write_probe(folder: Path) -> OSError | None:
    """Make and remove a folder (with a file) beside `folder`, as a save will: a try, not os.access, which says
    yes to root on a read-only mount. The error, or None when it can be written."""
    probe = folder.parent / f".{folder.name}.tmp-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir(parents=True)
        (probe / "probe").write_text("{}\n", encoding="utf-8")
    except OSError as error:
        return error
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return None


def runtime_index_dir(corpus_root: str | os.PathLike, embedder_location: str, max_words: int,
                      overlap_words: int) -> Path:
    """Where an index the project does not ship is built while serving: this user's cache, one folder per
    corpus, embedder and chunking, so a second run finds it current."""
    key = f"{Path(corpus_root).resolve()}|{embedder_location}|{max_words}|{overlap_words}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "fourpaths" / "index" / hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
