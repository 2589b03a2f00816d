"""Shared fixtures: real models, trained by the project's own recipes on their micro presets in seconds."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from fourpaths.answering.paths import PATH_IDS, PATHS
from fourpaths.config import PROJECT_ROOT, Settings
from fourpaths.measure.browser import CHROMIUM_HINT, find_chromium

torch.set_num_threads(1)  # tests share a 2-core machine with whatever else runs; oversubscription costs more



@pytest.fixture(scope="session", autouse=True)
def own_cache(tmp_path_factory):
    """Indexes built while serving another corpus go to the user's cache (XDG_CACHE_HOME): the tests' own, also
    for the subprocesses they start."""
    import os

    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield Path(os.environ["XDG_CACHE_HOME"])
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME")
    else:
        os.environ["XDG_CACHE_HOME"] = previous


SMALL_CORPUS_DOCS = ("hr-annual-leave-policy.md", "product-ferret-amr.md", "it-passwords-and-mfa.md")
SMALL_CORPUS_UPDATES = ("update-2026-loomwork-price-change.md",)


def _small_corpus(root: Path) -> Path:
    """Four real documents and the questions that cite them: small enough to index in a few seconds."""
    import json

    source = PROJECT_ROOT / "corpus"
    for folder, names in (("docs", SMALL_CORPUS_DOCS), ("updates", SMALL_CORPUS_UPDATES)):
        (root / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(source / folder / name, root / folder / name)
    (root / "qa").mkdir()
    kept = {f"docs/{n}" for n in SMALL_CORPUS_DOCS} | {f"updates/{n}" for n in SMALL_CORPUS_UPDATES}
    for split in ("train", "eval_seen", "eval_unseen"):
        lines = (source / "qa" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        chosen = [line for line in lines if line.strip() and json.loads(line)["source"] in kept]
        (root / "qa" / f"{split}.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    return _small_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def micro_models(tmp_path_factory, small_corpus) -> dict[str, Path]:
    """The shipped set of models in miniature, each made by its real recipe on its micro preset: a base, an
    answer-head LoRA adapter, an extractive reader and a tiny model from scratch; also a generative LoRA adapter
    on the base."""
    from fourpaths.training.answer_head import train_answer_head
    from fourpaths.training.base import train_base
    from fourpaths.training.generative_adapter import train_lora
    from fourpaths.training.reader import train_reader
    from fourpaths.training.scratch import train_scratch

    root = tmp_path_factory.mktemp("models")
    quiet = lambda *_: None  # noqa: E731
    train_base(root / "base", root / "runs" / "base", preset="micro", eval_size=2)
    train_answer_head(small_corpus, root / "lora", root / "runs" / "lora", preset="micro", progress=quiet)
    train_reader(root / "reader", root / "runs" / "reader", preset="micro", progress=quiet)
    train_scratch(small_corpus, root / "scratch", root / "runs" / "scratch", preset="micro", recall_limit=2)
    train_lora(str(root / "base"), small_corpus, root / "lora-generative", root / "runs" / "lora-generative",
               preset="micro", recall_limit=2)
    return {name: root / name for name in ("base", "lora", "reader", "scratch", "lora-generative")} | {"root": root}


@pytest.fixture(scope="session")
def micro_settings(micro_models, small_corpus, tmp_path_factory) -> Settings:
    return Settings(base_model=str(micro_models["base"]), lora_adapter=str(micro_models["lora"]),
                    reader_model=str(micro_models["reader"]), scratch_model=str(micro_models["scratch"]),
                    corpus_root=str(small_corpus), index_dir=str(tmp_path_factory.mktemp("index")), max_new_tokens=8)


@pytest.fixture(scope="session")
def warm_index(micro_settings) -> None:
    """Build the small corpus's index once, so page and browser tests time answers, not the first build."""
    from fourpaths.answering.workspace import Workspace

    Workspace(micro_settings).index()


@pytest.fixture
def micro_env(micro_settings, warm_index, monkeypatch, tmp_path) -> Settings:
    """The same settings as environment variables, for code that reads them itself (CLI, app, subprocesses);
    results go to a folder of the test's own, never the shipped results/."""
    for name in ("base_model", "lora_adapter", "reader_model", "scratch_model", "corpus_root", "index_dir",
                 "max_new_tokens"):
        monkeypatch.setenv(f"FOURPATHS_{name.upper()}", str(getattr(micro_settings, name)))
    monkeypatch.setenv("FOURPATHS_RESULTS_DIR", str(tmp_path / "results"))
    return micro_settings


def settings_with(settings: Settings, **changes) -> Settings:
    return replace(settings, **changes)


@pytest.fixture(scope="session")
def tiny_lora_models(tmp_path_factory, small_corpus):
    """A function of an architecture in tiny_models.ARCHITECTURES: a tiny random model of it and a generative
    LoRA adapter the recipe trained on it (micro preset), made on first use and kept for the session."""
    from tiny_models import build

    from fourpaths.training.generative_adapter import train_lora

    root = tmp_path_factory.mktemp("tiny-lora")
    made: dict[str, dict[str, Path]] = {}

    def model_and_adapter(architecture: str) -> dict[str, Path]:
        if architecture not in made:
            base = build(architecture, root / architecture)
            train_lora(str(base), small_corpus, root / f"{architecture}-lora", root / "runs" / architecture,
                       preset="micro", recall_limit=2)
            made[architecture] = {"base": base, "lora": root / f"{architecture}-lora"}
        return made[architecture]

    return model_and_adapter


@pytest.fixture(scope="session")
def micro_encoder_models(tiny_lora_models) -> dict[str, Path]:
    """A tiny BERT2BERT EncoderDecoderModel (all-MiniLM-L6-v2's tokenizer) and a generative LoRA adapter the
    recipe trained on it."""
    return tiny_lora_models("bert2bert")


QUESTION = "How many days of paid annual leave does an employee receive?"


def shown(text: str) -> str:
    """A message as the page shows it: the Markdown escapes (the page shows messages as plain text) removed."""
    return re.sub(r"\\(.)", r"\1", text)


def start(monkeypatch) -> AppTest:
    """app.py from the repo root, settings from the FOURPATHS_* variables; first run (and preload) done."""
    monkeypatch.chdir(PROJECT_ROOT)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, question: str | None = None, preset: str | None = None) -> AppTest:
    if preset is not None:
        at.selectbox(key="preset").set_value(preset).run()
        assert not at.exception, [e.value for e in at.exception]
    if question is not None:
        at.text_area[0].input(question)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def path_columns(at: AppTest) -> dict[str, object]:
    """Each path's answer column, found by the bold title it carries."""
    found = {}
    for path_id in PATH_IDS:
        title = PATHS[path_id].title
        matches = [c for c in at.columns if any(m.value == f"**{title}**" for m in c.markdown)]
        assert len(matches) == 1, f"expected one column titled {title!r}, found {len(matches)}"
        found[path_id] = matches[0]
    return found


def timing_captions(block) -> list[str]:
    """Each answer's one line of timings: "Answer by: <mode> · first token … ms, total … ms[, … tokens/s]"."""
    return [c.value for c in block.caption if c.value.startswith("Answer by: ")]


def assert_answered(column, path_id: str) -> None:
    timings = timing_captions(column)
    assert len(timings) == 1 and timings[0].startswith(f"Answer by: {MODES[path_id]} · first token "), timings
    assert timings[0].endswith("tokens/s") == (path_id in GENERATED), timings
    assert not column.error, [e.value for e in column.error]
    confidence = [c.value for c in column.caption if c.value.startswith("Confidence ")]
    assert len(confidence) == 1 and 0 <= float(confidence[0].split()[1]) <= 1, confidence
    assert len(column.get("progress")) == 1  # the confidence as a bar


def sidebar_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.sidebar.warning]




DOCS = {
    "docs/product-ferret.md": """# Ferret AMR

## Battery

The Ferret autonomous mobile robot runs for eleven hours on one charge of its lithium iron phosphate battery.
A full recharge at the docking station takes ninety minutes.

## Payload

The Ferret carries totes of up to forty kilograms on its lifting deck.
""",
    "docs/policy-holidays.md": """# Holiday policy

Every employee receives twenty-eight days of paid annual leave, including bank holidays.
Holiday requests must be approved by a line manager at least two weeks in advance.
Unused leave of up to five days may be carried into the next calendar year.
""",
    "docs/office-canteen.md": """# Canteen

The staff canteen on the ground floor of the Leeds office serves hot lunches from noon until two o'clock.
Vegetarian and vegan dishes are offered every day, and coffee is free for all staff.
""",
    "updates/update-security-badges.md": """# New security badges

From March 2026 every visitor must wear a green security badge, collected from reception on arrival.
Lost badges must be reported to the security desk within one hour.
""",
}


QUESTIONS = {
    "How long does the Ferret robot's battery last on one charge?": "docs/product-ferret.md",
    "How many days of paid annual leave do employees get?": "docs/policy-holidays.md",
    "When does the staff canteen serve lunch?": "docs/office-canteen.md",
    "What colour badge must visitors wear?": "updates/update-security-badges.md",
}


def write_corpus(root: Path) -> Path:
    for source, text in DOCS.items():
        path = root / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def figures(accuracy, strict, f1, abstained, p50, p95, errors=0):
    return {"accuracy": accuracy, "strict": strict, "f1": f1, "abstained": abstained, "p50_ms": p50, "p95_ms": p95,
            "errors": errors}


def item(qid, question, reference, answers, scores):
    return {"id": qid, "question": question, "reference": reference, "answers": answers, "scores": scores}


def score(right, abstained=False, error=None):
    data = {"accuracy": right, "strict": right, "f1": 1.0 if right else 0.0, "abstained": abstained, "ms": 10.0}
    if error:
        data["error"] = error
    return data


APP = PROJECT_ROOT / "app.py"


TIMEOUT = 300  # generous: the first run loads every model, on a shared 2-core machine


GENERATED = {"prompt", "scratch"}  # these write tokens: their timings end with tokens/s
MODES = {"prompt": "generated", "lora": "answer head", "rag": "extractive reader", "scratch": "generated"}


DOC = {
    "format": 1, "date": "2026-12-06T10:00:00Z", "commit": "0123456789abcdef0123", "uncommitted_changes": True,
    "machine": {"processor": "Test CPU", "cpu_count": 2}, "limit": 2,
    "splits": {
        "eval_seen": {"split": "eval_seen", "n": 2, "unanswerable": False,
                      "paths": {"prompt": figures(0.0, 0.0, 0.1, 0.5, 30.0, 40.0),
                                "lora": figures(0.5, 0.5, 0.6, 0.0, 5.0, 6.0),
                                "rag": figures(1.0, 0.5, 0.8, 0.0, 50.0, 70.0),
                                "scratch": figures(0.0, 0.0, 0.0, 0.0, 20.0, 25.0, errors=1)},
                      "items": [item("s1", "How many days?", "25", {"prompt": "I don't know.", "lora": "25",
                                                                    "rag": "25 days", "scratch": ""},
                                     {"prompt": score(False, abstained=True), "lora": score(True),
                                      "rag": score(True), "scratch": score(False, error="out of memory")}),
                                item("s2", "What price?", "$1", {"prompt": "$9", "lora": "$2", "rag": "$1 each",
                                                                 "scratch": "$3"},
                                     {"prompt": score(False), "lora": score(False), "rag": score(True),
                                      "scratch": score(False)})]},
        "eval_unseen": {"split": "eval_unseen", "n": 2, "unanswerable": False,
                        "paths": {"prompt": figures(0.0, 0.0, 0.0, 0.0, 30.0, 40.0),
                                  "lora": figures(0.0, 0.0, 0.1, 0.5, 5.0, 6.0),
                                  "rag": figures(1.0, 1.0, 0.9, 0.0, 50.0, 70.0),
                                  "scratch": figures(0.0, 0.0, 0.0, 0.0, 20.0, 25.0)},
                        "items": []},
    },
}


def chromium_or_skip() -> str:
    chromium = find_chromium()
    if chromium is None:
        reason = f"no Chromium found: {CHROMIUM_HINT}"
        if os.environ.get("FOURPATHS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FOURPATHS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return chromium
