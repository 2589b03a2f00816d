"""Broken files and configuration (issue 21): damaged weights, configs and tokenizers, adapters for another base,
damaged or half-written search indexes, a read-only project and a full disk. Each is refused with one line that
names the file, in the column of the path it breaks (the others still answer), a non-zero exit in the CLI, and
the files on disk never worse than before. Everything is done on copies in tmp_path: real damaged files, real
subprocesses and real OS failures (file-size limits, read-only and tiny tmpfs mounts in a mount namespace)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    QUESTION,
    ask,
    assert_answered,
    path_columns,
    shown,
    sidebar_warnings,
    start,
    timing_captions,
)

from fourpaths.answering import engine
from fourpaths.answering.answer_head import AnswerHead
from fourpaths.answering.reader import Reader
from fourpaths.cli import main
from fourpaths.config import Settings
from fourpaths.errors import FourpathsError
from fourpaths.retrieval import embedder as embedder_module
from fourpaths.retrieval import index as retrieval
from fourpaths.retrieval.embedder import resolve_embedder_location
from fourpaths.retrieval.index import SearchIndex, open_index

CHUNK_WORDS, CHUNK_OVERLAP = Settings.chunk_words, Settings.chunk_overlap  # so the CLI finds them current
NEW_DOCUMENT = "# Bike shed\n\nThe bike shed behind the Leeds office now has forty covered bicycle spaces.\n"


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message, message
    return message


def copy_model(source: Path, destination: Path, linked: tuple[str, ...] = ()) -> Path:
    """A model folder copied file by file; the files named in `linked` (weights left whole) are symlinked."""
    destination.mkdir(parents=True)
    for path in source.iterdir():
        if path.name in linked:
            (destination / path.name).symlink_to(path.resolve())
        elif path.is_dir():
            shutil.copytree(path, destination / path.name)
        else:
            shutil.copy2(path, destination / path.name)
    return destination


def damage_weights(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "overwritten header":
        path.write_bytes(b"\xff" * 64 + data[64:])
    elif how == "random tensor bytes":  # the header intact, every tensor's bytes random: a well-formed file
        header_end = 8 + int.from_bytes(data[:8], "little")
        path.write_bytes(data[:header_end] + random.Random(0).randbytes(len(data) - header_end))
    else:
        raise ValueError(how)


def file_hashes(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def stderr_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip() and "\r" not in line]
    lines = [line for line in lines if not line.lstrip().startswith(("embedding chunks", "indexing corpus"))]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fourpaths: error: "), lines[0]
    return lines[0]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fourpaths.cli", *args], capture_output=True, text=True,
                          env=env or dict(os.environ), cwd=cwd, timeout=600, **kwargs)


# `fourpaths index` in a process whose files may grow to only LIMIT bytes (RLIMIT_FSIZE). Python ignores SIGXFSZ,
# so by default an over-long write fails with EFBIG, as on a full disk; with CRASH=1 the signal's default action
# is restored and the kernel kills the process in the middle of the write, as a crash or an OOM kill would.
_INDEX_UNDER_LIMIT = """
import os, resource, signal, sys
if os.environ["CRASH"] == "1":
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
limit = int(os.environ["LIMIT"])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
from fourpaths.cli import main
sys.exit(main())
"""


def index_under_limit(limit: int, crash: bool, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LIMIT=str(limit), CRASH="1" if crash else "0", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", _INDEX_UNDER_LIMIT, "index", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def _namespace_prefix() -> list[str]:
    """A mount namespace of its own: mounts made in it vanish with it and no other process sees them."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private"]


def _mounts_in_a_namespace(tmp_root: Path) -> str | None:
    """None when a read-only bind mount works in a namespace of ours here, else why not."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        return "unshare or mount is not installed"
    probe = tmp_root / "probe"
    probe.mkdir()
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" || exit 97; touch "$1/x"'
    result = subprocess.run([*_namespace_prefix(), "sh", "-c", script, "sh", str(probe)], capture_output=True,
                            text=True, timeout=60)
    if result.returncode in (0, 97) or "Read-only" not in result.stderr or (probe / "x").exists():
        return f"no read-only bind mount in a mount namespace here: {result.stderr.strip() or result.returncode}"
    return None


def _permissions_bind(tmp_root: Path) -> bool:
    """Whether taking the write bits away stops this user writing (not for root, who passes every check)."""
    probe = tmp_root / "perm-probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        (probe / "x").write_text("")
    except PermissionError:
        return True
    finally:
        probe.chmod(0o755)
    return False


@pytest.fixture(scope="session")
def read_only_runner(tmp_path_factory):
    """run(folders, argv, env): argv run with `folders` read-only to it, by permissions where they bind this user,
    else in a mount namespace where the folders are bound read-only (EROFS, for root too); the test is skipped,
    with the reason, only where neither can be had."""
    root = tmp_path_factory.mktemp("read-only-probe")
    if _permissions_bind(root):
        def run(folders: list[Path], argv: list[str], env: dict) -> subprocess.CompletedProcess:
            changed = [path for folder in folders for path in [folder, *folder.rglob("*")] if not path.is_symlink()]
            modes = {path: path.stat().st_mode for path in changed}
            for path in changed:
                path.chmod(modes[path] & ~0o222)
            try:
                return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
            finally:
                for path in changed:
                    path.chmod(modes[path])
        return run
    reason = _mounts_in_a_namespace(root)
    if reason:
        pytest.skip(f"cannot make a read-only folder for this user (root ignores permissions): {reason}")

    def run(folders: list[Path], argv: list[str], env: dict) -> subprocess.CompletedProcess:
        binds = "".join(f'mount --bind "{f}" "{f}" && mount -o remount,bind,ro "{f}" "{f}" && ' for f in folders)
        return subprocess.run([*_namespace_prefix(), "sh", "-c", binds + 'exec "$@"', "sh", *argv],
                              capture_output=True, text=True, env=env, timeout=600)
    return run


@pytest.fixture(scope="session")
def small_index(small_corpus, tmp_path_factory) -> Path:
    """The small corpus's index with the settings' chunking, built once; tests damage copies of it."""
    folder = tmp_path_factory.mktemp("small-index") / "index"
    open_index(small_corpus, folder, None, CHUNK_WORDS, CHUNK_OVERLAP)
    return folder


@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    return Path(shutil.copytree(small_index, tmp_path / "index"))


@pytest.fixture
def changed_corpus(small_corpus, tmp_path) -> Path:
    """The small corpus with one more document: an index of the small corpus is out of date with it."""
    corpus = Path(shutil.copytree(small_corpus, tmp_path / "corpus"))
    (corpus / "updates" / "update-bike-shed.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    return corpus


@pytest.fixture(scope="session")
def other_embedder(tmp_path_factory) -> Path:
    """A real sentence-transformers embedder other than all-MiniLM-L6-v2: a tiny random BERT (32 wide) on
    MiniLM's vocabulary with mean pooling, saved as a model folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    root = tmp_path_factory.mktemp("other-embedder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_embedder_location(None))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    word = Transformer(str(root / "bert"))
    SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension())],
                        device="cpu").save(str(root / "embedder"))
    return root / "embedder"


# ---------------------------------------------------------------------------------------------------------------
# Model weights: missing, truncated, overwritten, random bytes in a well-formed file


MODELS = ("base", "scratch", "reader", "embedder", "answer head", "generative adapter")
WEIGHTS = {"answer head": "adapter_model.safetensors", "generative adapter": "adapter_model.safetensors"}
DAMAGE = {"missing": "safetensors", "truncated": "truncated or damaged", "overwritten header": "truncated or damaged",
          "random tensor bytes": "NaN or infinite"}


def model_source(kind: str, micro_models) -> Path:
    if kind == "embedder":
        return Path(resolve_embedder_location(None))
    return micro_models[{"answer head": "lora", "generative adapter": "lora-generative"}.get(kind, kind)]


def load_model(kind: str, folder: Path, micro_models):
    """What the app loads for `kind`; a generative adapter that cannot attach raises what the LoRA path shows."""
    if kind in ("base", "scratch"):
        return engine.load_fresh(str(folder))
    if kind == "reader":
        return Reader.load(str(folder))
    if kind == "embedder":
        return embedder_module.load_embedder(str(folder))
    if kind == "answer head":
        return AnswerHead.load(str(folder))
    generator = engine.load_fresh(str(micro_models["base"]), str(folder))
    assert generator.model is not None and generator.adapter_location is None  # the base itself still serves
    if generator.adapter_error:
        raise FourpathsError(generator.adapter_error)
    return generator


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("kind", MODELS)
def test_damaged_weights_are_refused_at_load_naming_the_file(kind, damage, micro_models, tmp_path):
    source = model_source(kind, micro_models)
    folder = copy_model(source, tmp_path / kind.replace(" ", "-"))
    weights = folder / WEIGHTS.get(kind, "model.safetensors")
    damage_weights(weights, damage)
    with pytest.raises(FourpathsError) as raised:
        load_model(kind, folder, micro_models)
    message = one_line(raised.value)
    assert str(folder) in message and DAMAGE[damage] in message, message
    assert (source / weights.name).stat().st_size > 0  # the original is untouched


# ---------------------------------------------------------------------------------------------------------------
# config.json that is not JSON


@pytest.mark.parametrize("kind", ["base", "scratch", "reader", "embedder", "answer head's base"])
def test_a_config_that_is_not_json_is_refused_naming_the_folder(kind, micro_models, tmp_path):
    source = model_source("embedder" if kind == "answer head's base" else kind, micro_models)
    folder = copy_model(source, tmp_path / "model", linked=("model.safetensors",))
    (folder / "config.json").write_text('{"model_type": "llama", "hidden_size": 6', encoding="utf-8")
    with pytest.raises(FourpathsError) as raised:
        if kind == "answer head's base":
            AnswerHead.load(str(micro_models["lora"]), base_location=str(folder))
        else:
            load_model(kind, folder, micro_models)
    assert str(folder) in one_line(raised.value)


# ---------------------------------------------------------------------------------------------------------------
# A tokenizer that does not match its model


def _swap_in_a_larger_tokenizer(folder: Path) -> int:
    """Replace a generator's tokenizer by all-MiniLM-L6-v2's (30522 tokens): a tokenizer of another model."""
    from transformers import AutoTokenizer

    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        (folder / name).unlink(missing_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(resolve_embedder_location(None))
    tokenizer.save_pretrained(folder)
    return len(tokenizer)


def _shrink_embedding_table(folder: Path, loader: str, rows: int = 1000) -> None:
    """Keep the folder's tokenizer, cut the model's embedding table to `rows`: the two no longer match."""
    import transformers

    model = getattr(transformers, loader).from_pretrained(folder)
    model.resize_token_embeddings(rows)
    model.save_pretrained(folder)


@pytest.mark.parametrize("kind", ["base", "scratch", "reader", "embedder", "answer head's base"])
def test_a_tokenizer_larger_than_the_embedding_table_is_refused_at_load(kind, micro_models, tmp_path):
    source = model_source("embedder" if kind == "answer head's base" else kind, micro_models)
    folder = copy_model(source, tmp_path / "model", linked=("model.safetensors",))
    if kind in ("base", "scratch"):
        from transformers import AutoConfig

        rows = AutoConfig.from_pretrained(folder).vocab_size
        assert _swap_in_a_larger_tokenizer(folder) > rows
    else:
        (folder / "model.safetensors").unlink()  # the link: the shrunk model is written in its place
        shutil.copy2(source / "model.safetensors", folder / "model.safetensors")
        _shrink_embedding_table(folder, "AutoModelForQuestionAnswering" if kind == "reader" else "AutoModel")
    with pytest.raises(FourpathsError) as raised:
        if kind == "answer head's base":
            AnswerHead.load(str(micro_models["lora"]), base_location=str(folder))
        else:
            load_model(kind, folder, micro_models)
    message = one_line(raised.value)
    assert str(folder) in message and "tokenizer" in message and "embedding table" in message, message


def test_a_mismatched_tokenizer_fails_its_column_not_an_answer_mid_way(micro_env, micro_models, monkeypatch,
                                                                      tmp_path, capsys):
    """Before: the scratch model loaded and the first question died in torch with an IndexError."""
    folder = copy_model(micro_models["scratch"], tmp_path / "scratch", linked=("model.safetensors",))
    _swap_in_a_larger_tokenizer(folder)
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(folder))
    assert main(["ask", QUESTION, "--json", "--paths", "scratch", "prompt"]) == 1  # not every path answered
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert "embedding table" in answers["scratch"]["error"] and str(folder) in answers["scratch"]["error"]
    assert "IndexError" not in answers["scratch"]["error"]
    assert "error" not in answers["prompt"]


# ---------------------------------------------------------------------------------------------------------------
# Adapters for another base (the generative adapter's case: tests/test_engine.py and tests/test_app.py)


@pytest.fixture(scope="session")
def narrow_bert(tmp_path_factory) -> Path:
    """A BERT like all-MiniLM-L6-v2 in every way but width (32, not 384): another base for the shipped head."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("narrow-bert") / "bert"
    tokenizer = AutoTokenizer.from_pretrained(resolve_embedder_location(None))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("head", ["shipped", "micro"])
def test_an_answer_head_for_another_base_is_refused_naming_the_layer(head, micro_models, narrow_bert, tmp_path):
    """The shipped head (on all-MiniLM-L6-v2, 384 wide) on a 32-wide BERT; the micro head (on a 32-wide micro
    base) on all-MiniLM-L6-v2."""
    from fourpaths.config import PROJECT_ROOT

    if head == "shipped":
        adapter = copy_model(PROJECT_ROOT / "models" / "lora", tmp_path / "lora")
        base, widths = narrow_bert, "32 wide in the base but 384 in the adapter"
    else:
        adapter = micro_models["lora"]
        base, widths = Path(resolve_embedder_location(None)), "384 wide in the base but 32 in the adapter"
    with pytest.raises(FourpathsError) as raised:
        AnswerHead.load(str(adapter), base_location=str(base))
    message = one_line(raised.value)
    assert "does not fit the base" in message and str(adapter) in message and widths in message, message


def test_an_answer_head_recorded_for_another_base_fails_only_the_lora_column(micro_env, micro_models, monkeypatch,
                                                                            tmp_path, capsys):
    adapter = copy_model(micro_models["lora"], tmp_path / "lora")
    config = json.loads((adapter / "adapter_config.json").read_text())
    other_base = resolve_embedder_location(None)  # all-MiniLM-L6-v2, not the micro base it was trained on
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": other_base}))
    monkeypatch.setenv("FOURPATHS_LORA_ADAPTER", str(adapter))
    assert main(["ask", QUESTION, "--json"]) == 1  # not every path answered
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert "does not fit the base" in answers["lora"]["error"], answers["lora"]
    assert all("error" not in answers[path] for path in ("prompt", "rag", "scratch")), answers


# ---------------------------------------------------------------------------------------------------------------
# Search index: damaged, from another embedder, half-written; rebuilt where it can be, refused where it cannot


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scramble_vectors(path: Path) -> None:
    """Random bytes over the vectors, the file's size and header kept: faiss reads it without complaint."""
    data = path.read_bytes()
    path.write_bytes(data[:64] + random.Random(0).randbytes(len(data) - 64))


INDEX_DAMAGE = {
    "index.faiss truncated": lambda folder: _truncate(folder / "index.faiss"),
    "chunks.jsonl truncated": lambda folder: _truncate(folder / "chunks.jsonl"),
    "manifest.json truncated": lambda folder: _truncate(folder / "manifest.json"),
    "index.faiss missing": lambda folder: (folder / "index.faiss").unlink(),
    "vectors overwritten": lambda folder: _scramble_vectors(folder / "index.faiss"),
}


@pytest.mark.parametrize("damage", INDEX_DAMAGE)
def test_a_damaged_index_is_rebuilt_when_it_can_be(damage, index_copy, small_corpus, small_index):
    INDEX_DAMAGE[damage](index_copy)
    index, rebuilt = open_index(small_corpus, index_copy, None, CHUNK_WORDS, CHUNK_OVERLAP)
    assert rebuilt and len(index) == len(SearchIndex.load(small_index))
    assert file_hashes(index_copy).keys() == file_hashes(small_index).keys()
    assert index.search("How many days of paid annual leave?", 1)[0].source == "docs/hr-annual-leave-policy.md"


def test_an_index_from_another_embedder_is_rebuilt_for_this_one(index_copy, small_corpus, other_embedder):
    from fourpaths.retrieval.embedder import load_embedder

    with pytest.raises(FourpathsError, match="index dimension 384 does not match the embedder's 32"):
        SearchIndex.load(index_copy, load_embedder(str(other_embedder)))
    index, rebuilt = open_index(small_corpus, index_copy, str(other_embedder), CHUNK_WORDS, CHUNK_OVERLAP)
    assert rebuilt and index.dimension == 32
    assert retrieval.read_manifest(index_copy)["embedder"] == str(other_embedder.resolve())


def test_an_index_that_cannot_be_written_is_refused_with_the_command_before_embedding(small_corpus, tmp_path):
    """index_dir under a regular file: no user, root included, can create it (NotADirectoryError)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    progress = []
    with pytest.raises(FourpathsError) as raised:
        open_index(small_corpus, a_file / "index", None, CHUNK_WORDS, CHUNK_OVERLAP,
                   progress=lambda done, total: progress.append(done))
    message = one_line(raised.value)
    assert "is missing and cannot be rebuilt there (Not a directory)" in message
    assert "`fourpaths index`" in message and "FOURPATHS_INDEX_DIR" in message
    assert progress == []  # refused before any chunk was embedded
    assert a_file.read_text() == "not a folder"


def test_index_dir_pointed_at_a_folder_of_other_files_is_refused_not_replaced(small_corpus, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.md").write_text("my notes")
    with pytest.raises(FourpathsError, match="not a search index"):
        open_index(small_corpus, folder, None, CHUNK_WORDS, CHUNK_OVERLAP)
    assert [p.name for p in folder.iterdir()] == ["mine.md"]


def test_a_document_that_is_not_text_is_named_not_a_decode_error(changed_corpus, index_copy):
    broken = changed_corpus / "docs" / "scanned-page.md"
    broken.write_bytes(b"# Scan\n\xff\xfe\x00binary")
    before = file_hashes(index_copy)
    with pytest.raises(FourpathsError) as raised:
        open_index(changed_corpus, index_copy, None, CHUNK_WORDS, CHUNK_OVERLAP)
    assert one_line(raised.value) == f"{broken}: not UTF-8 text (byte 7); fix or remove the file"
    assert file_hashes(index_copy) == before  # the old index stays as it was


def test_a_crash_in_the_middle_of_fourpaths_index_leaves_the_old_index_serving(micro_env, index_copy, changed_corpus,
                                                                               monkeypatch):
    """The kernel kills `fourpaths index` (SIGXFSZ) in the middle of writing the new vectors."""
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", str(index_copy))
    monkeypatch.setenv("FOURPATHS_CORPUS_ROOT", str(changed_corpus))
    before = file_hashes(index_copy)
    old_vectors = (index_copy / "index.faiss").stat().st_size
    limit = old_vectors // 2  # room for the new chunks.jsonl, not for the new index.faiss
    assert (index_copy / "chunks.jsonl").stat().st_size < limit
    result = index_under_limit(limit, True)
    assert result.returncode == -signal.SIGXFSZ, (result.returncode, result.stderr[-2000:])
    leftovers = list(index_copy.parent.glob(".index.tmp-*"))
    assert len(leftovers) == 1 and 0 < (leftovers[0] / "index.faiss").stat().st_size <= limit  # killed mid-write
    assert file_hashes(index_copy) == before
    old = SearchIndex.load(index_copy)
    assert old.search("How many days of paid annual leave?", 1)[0].source == "docs/hr-annual-leave-policy.md"
    assert "updates/update-bike-shed.md" not in old.sources
    # The next `fourpaths index` clears the leftover and builds the new index.
    assert main(["index"]) == 0
    assert not list(index_copy.parent.glob(".index.tmp-*"))
    assert "updates/update-bike-shed.md" in SearchIndex.load(index_copy).sources


def test_a_full_disk_during_fourpaths_index_rebuild_keeps_the_old_index(micro_env, index_copy, monkeypatch):
    """RLIMIT_FSIZE: the write fails with a real EFBIG from the kernel, as ENOSPC would on a full disk."""
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", str(index_copy))
    before = file_hashes(index_copy)
    limit = (index_copy / "index.faiss").stat().st_size // 2
    result = index_under_limit(limit, False, "--rebuild")
    assert result.returncode == 2, result.stderr[-2000:]
    line = stderr_line(result)
    assert str(index_copy) in line and "File too large" in line and "unchanged" in line, line
    assert file_hashes(index_copy) == before
    assert not list(index_copy.parent.glob(".index.tmp-*"))
    assert len(SearchIndex.load(index_copy)) > 0


_ON_A_TINY_DISK = """
set -u
disk="$1"; old="$2"; shift 2
mount -t tmpfs -o size="$SIZE" tmpfs "$disk" || exit 97
cp -r "$old" "$disk/index"
"$@"
echo "exit=$?"
python_files='import hashlib, json, pathlib, sys
files = sorted(pathlib.Path(sys.argv[1]).iterdir())
print("files=" + json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}))'
"$PYTHON" -c "$python_files" "$disk/index"
echo "beside=$(ls -A "$disk" | tr '\\n' ' ')"
"""


def test_a_full_disk_while_the_index_is_rebuilt_keeps_the_old_index(micro_env, small_index, changed_corpus,
                                                                     tmp_path):
    """A tmpfs just larger than the old index, mounted in a mount namespace of the test's own: a real ENOSPC."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is not installed: no tmpfs of our own")
    disk = tmp_path / "disk"
    disk.mkdir()
    sizes = {path.name: path.stat().st_size for path in small_index.iterdir()}
    spare = sizes["chunks.jsonl"] + 16 * 1024  # room for the new chunks.jsonl, not for the new vectors
    assert spare < sizes["index.faiss"]
    size = sum(sizes.values()) + spare
    env = dict(os.environ, SIZE=str(size), PYTHON=sys.executable, FOURPATHS_INDEX_DIR=str(disk / "index"),
               FOURPATHS_CORPUS_ROOT=str(changed_corpus))
    result = subprocess.run([*_namespace_prefix(), "sh", "-c", _ON_A_TINY_DISK, "sh", str(disk), str(small_index),
                             sys.executable, "-m", "fourpaths.cli", "index"],
                            capture_output=True, text=True, env=env, timeout=600)
    if result.returncode == 97:
        pytest.skip(f"cannot mount a tmpfs in a mount namespace here: {result.stderr.strip()}")
    report = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.split("=", 1)[0] in
                  ("exit", "files", "beside"))
    assert report["exit"] == "2", result.stderr[-2000:]
    assert "No space left on device" in result.stderr and "unchanged" in result.stderr, result.stderr[-2000:]
    assert json.loads(report["files"]) == file_hashes(small_index)
    assert sorted(set(report["beside"].split()) - {".index.lock"}) == ["index"]  # no half-written folder left


# ---------------------------------------------------------------------------------------------------------------
# A read-only project folder


@pytest.fixture
def read_only_project(micro_env, micro_models, small_corpus, small_index, tmp_path, monkeypatch) -> Path:
    """The models, corpus and index copied into one project folder, which the settings point at."""
    project = tmp_path / "project"
    for name in ("base", "lora", "reader", "scratch"):
        shutil.copytree(micro_models[name], project / "models" / name)
    shutil.copytree(small_corpus, project / "corpus")
    shutil.copytree(small_index, project / "index")
    for setting, folder in (("BASE_MODEL", "models/base"), ("LORA_ADAPTER", "models/lora"),
                            ("READER_MODEL", "models/reader"), ("SCRATCH_MODEL", "models/scratch"),
                            ("CORPUS_ROOT", "corpus"), ("INDEX_DIR", "index")):
        monkeypatch.setenv(f"FOURPATHS_{setting}", str(project / folder))
    return project


def project_hashes(project: Path) -> dict[str, str]:
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(project.rglob("*")) if path.is_file()}


def test_a_read_only_project_answers_every_path(read_only_project, read_only_runner):
    before = project_hashes(read_only_project)
    cli = [sys.executable, "-m", "fourpaths.cli"]
    indexed = read_only_runner([read_only_project], [*cli, "index"], dict(os.environ))
    assert indexed.returncode == 0 and "(up to date)" in indexed.stdout, indexed.stderr[-2000:]
    asked = read_only_runner([read_only_project], [*cli, "ask", QUESTION, "--json"], dict(os.environ))
    assert asked.returncode == 0, asked.stderr[-2000:]
    answers = json.loads(asked.stdout)["answers"]
    assert all("error" not in answers[path] for path in ("prompt", "lora", "rag", "scratch")), answers
    assert project_hashes(read_only_project) == before


@pytest.mark.parametrize("state", ["out of date with the corpus", "damaged", "built by another embedder"])
def test_a_broken_index_in_a_read_only_project_is_refused_with_the_command(state, read_only_project, read_only_runner,
                                                                          other_embedder, monkeypatch):
    if state == "out of date with the corpus":
        (read_only_project / "corpus" / "updates" / "update-bike-shed.md").write_text(NEW_DOCUMENT)
    elif state == "damaged":
        _truncate(read_only_project / "index" / "index.faiss")
    else:
        monkeypatch.setenv("FOURPATHS_EMBEDDER", str(other_embedder))
    before = project_hashes(read_only_project)
    cli = [sys.executable, "-m", "fourpaths.cli"]
    indexed = read_only_runner([read_only_project], [*cli, "index"], dict(os.environ))
    assert indexed.returncode == 2
    line = stderr_line(indexed)
    assert f"search index in {read_only_project / 'index'} is {state}" in line and "cannot be rebuilt there" in line
    assert "`fourpaths index`" in line and ("(Read-only file system)" in line or "(Permission denied)" in line), line
    asked = read_only_runner([read_only_project], [*cli, "ask", QUESTION, "--json"], dict(os.environ))
    assert asked.returncode == 1, asked.stderr[-2000:]  # RAG failed: not every path answered
    answers = json.loads(asked.stdout)["answers"]
    assert "cannot be rebuilt there" in answers["rag"]["error"]
    assert all("error" not in answers[path] for path in ("prompt", "lora", "scratch")), answers
    assert project_hashes(read_only_project) == before


# ---------------------------------------------------------------------------------------------------------------
# The page: the broken path's column says what is wrong, the other three answer, the app keeps serving


def test_a_truncated_reader_fails_only_the_rag_column(micro_env, micro_models, monkeypatch, tmp_path):
    reader = copy_model(micro_models["reader"], tmp_path / "reader")
    damage_weights(reader / "model.safetensors", "truncated")
    monkeypatch.setenv("FOURPATHS_READER_MODEL", str(reader))
    at = start(monkeypatch)
    warnings = [shown(w) for w in sidebar_warnings(at)]
    assert len(warnings) == 1 and warnings[0].startswith("the reader: ") and "truncated or damaged" in warnings[0]
    for _ in range(2):  # and again: the app keeps serving
        ask(at, question=QUESTION)
        columns = path_columns(at)
        errors = [shown(e.value) for e in columns["rag"].error]
        assert len(errors) == 1 and f"{reader}: model.safetensors is truncated or damaged" in errors[0], errors
        assert not timing_captions(columns["rag"])
        for path_id in ("prompt", "lora", "scratch"):
            assert_answered(columns[path_id], path_id)


def test_a_mismatched_tokenizer_fails_only_the_scratch_column(micro_env, micro_models, monkeypatch, tmp_path):
    scratch = copy_model(micro_models["scratch"], tmp_path / "scratch", linked=("model.safetensors",))
    _swap_in_a_larger_tokenizer(scratch)
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(scratch))
    at = ask(start(monkeypatch), question=QUESTION)
    columns = path_columns(at)
    errors = [shown(e.value) for e in columns["scratch"].error]
    assert len(errors) == 1 and str(scratch) in errors[0] and "embedding table" in errors[0], errors
    for path_id in ("prompt", "lora", "rag"):
        assert_answered(columns[path_id], path_id)


def test_an_index_that_cannot_be_built_fails_only_the_rag_column_with_the_command(micro_env, monkeypatch, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", str(a_file / "index"))
    at = start(monkeypatch)
    assert any(shown(w).startswith("the search index: ") and "`fourpaths index`" in shown(w)
               for w in sidebar_warnings(at))
    ask(at, question=QUESTION)
    columns = path_columns(at)
    errors = [shown(e.value) for e in columns["rag"].error]
    assert len(errors) == 1 and "cannot be rebuilt there" in errors[0] and "`fourpaths index`" in errors[0], errors
    for path_id in ("prompt", "lora", "scratch"):
        assert_answered(columns[path_id], path_id)


# ---------------------------------------------------------------------------------------------------------------
# Configuration: the page and the CLI (the rules themselves: tests/test_config.py)


@pytest.mark.parametrize("variable, value, expected", [
    ("FOURPATHS_TOP_K_PASSAGES", "abc", "FOURPATHS_TOP_K_PASSAGES='abc': setting top_k_passages must be int"),
    ("FOURPATHS_" + "TOP_K", "3", "did you mean FOURPATHS_TOP_K_PASSAGES?"),
    ("FOURPATHS_INDEX_DIR", "../elsewhere", "setting index_dir = '../elsewhere' is outside the project folder"),
])
def test_bad_configuration_is_one_line_in_the_cli_and_a_message_on_the_page(variable, value, expected, micro_env,
                                                                           monkeypatch, capsys):
    from conftest import APP, TIMEOUT
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(variable, value)
    assert main(["ask", QUESTION]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("fourpaths: error: ") and expected in err[0], err
    assert main(["index"]) == 2
    monkeypatch.chdir(APP.parent)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = f"The settings cannot be used: {err[0].removeprefix('fourpaths: error: ')}"
    assert [shown(e.value) for e in at.error] == [expected]
