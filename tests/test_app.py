"""The Compare page, driven through Streamlit's AppTest against the micro models the recipes train."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fourpaths.config import MAX_QUESTION_CHARS, PROJECT_ROOT
from fourpaths.paths import PATH_IDS, PATHS

APP = PROJECT_ROOT / "app.py"
TIMEOUT = 300  # generous: the first run loads every model, on a shared 2-core machine
METRIC_LABELS = ("First token", "Total", "Tokens/s")
QUESTION = "How many days of paid annual leave does an employee receive?"


@pytest.fixture
def app(micro_env, monkeypatch) -> AppTest:
    """app.py from the repo root, settings from the micro_env variables; first run done."""
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
    """Each path's answer column, found by the subheader it carries (the nested metric columns carry none)."""
    found = {}
    for path_id in PATH_IDS:
        title = PATHS[path_id].title
        matches = [c for c in at.columns if any(s.value == title for s in c.subheader)]
        assert len(matches) == 1, f"expected one column titled {title!r}, found {len(matches)}"
        found[path_id] = matches[0]
    return found


def metric_labels(block) -> list[str]:
    return [m.label for m in block.metric]


def latency_chart_present(at: AppTest) -> bool:
    """The Latency subheader, followed by a chart, at the top level of the page."""
    children = list(at.main.children.values())
    for position, node in enumerate(children):
        if getattr(node, "type", None) == "subheader" and node.value == "Latency":
            return any(getattr(later, "type", "").endswith("vega_lite_chart") for later in children[position + 1:])
    return False


def assert_answered(column) -> None:
    assert sorted(metric_labels(column)) == sorted(METRIC_LABELS)
    assert not column.error, [e.value for e in column.error]


def at_errors(at: AppTest) -> list[str]:
    return [e.value for e in at.exception] + [e.value for e in at.error]


def test_app_runs_without_exception(app):
    assert not at_errors(app)
    assert app.sidebar.header[0].value == "Settings"


def test_page_renders_title_presets_and_ask_button(app):
    assert [t.value for t in app.title] == ["One question, four paths"]
    presets = app.selectbox(key="preset")
    assert presets.label == "Preset questions"
    assert presets.options[0] == "(type your own)"
    assert len(presets.options) > 1, "the small corpus should give preset questions"
    assert [b.label for b in app.button] == ["Ask"]
    assert not app.warning, [w.value for w in app.warning]


def test_preset_question_gets_four_answers_with_latency(app):
    preset = app.selectbox(key="preset").options[1]
    ask(app, preset=preset)
    assert app.text_area[0].value, "choosing a preset should fill the question"
    columns = path_columns(app)
    for column in columns.values():
        assert_answered(column)
    assert len(app.metric) == 3 * len(PATH_IDS) == 12
    assert sorted(metric_labels(app)) == sorted(METRIC_LABELS * len(PATH_IDS))
    assert "Latency" in [s.value for s in app.subheader]
    assert latency_chart_present(app)
    walls = [c.value for c in app.caption if c.value.startswith("From Ask to the last answer")]
    assert len(walls) == 1 and " ms, decoded in " in walls[0], walls
    assert not app.error, [e.value for e in app.error]


def test_typed_question_gets_four_answers(app):
    ask(app, question=QUESTION)
    for column in path_columns(app).values():
        assert_answered(column)
    assert len(app.metric) == 12
    assert latency_chart_present(app)


def test_the_first_question_on_a_fresh_machine_builds_the_index_and_says_so(micro_env, monkeypatch, tmp_path):
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", str(tmp_path / "fresh-index"))
    monkeypatch.chdir(PROJECT_ROOT)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    ask(at, question=QUESTION)
    built = [c.value for c in at.caption if c.value.startswith("Search index built for this question")]
    assert len(built) == 1 and "sentences embedded in" in built[0]
    assert (tmp_path / "fresh-index" / "sentences.npy").exists()
    for column in path_columns(at).values():
        assert_answered(column)
    ask(at, question=QUESTION)  # the second question finds the index built
    assert not [c.value for c in at.caption if c.value.startswith("Search index built")]


def test_the_rag_anatomy_lists_the_evidence_sentences_the_quote_starts_from(app):
    ask(app, question=QUESTION)
    rag = path_columns(app)["rag"]
    assert any(m.value.startswith("**Evidence sentences**") for m in rag.markdown)
    captions = [c.value for c in rag.caption if c.value.startswith("1. passage [")]
    assert len(captions) == 1 and "score" in captions[0]
    last_sentence = rag.text[-1].value  # the evidence list comes after the passages
    assert last_sentence.strip() and last_sentence in rag.code[0].value  # a sentence of the prompt's passages


def test_empty_question_is_an_error(app):
    ask(app, question="   ")
    assert len(app.error) == 1
    assert "empty" in app.error[0].value
    assert not app.metric
    assert "Latency" not in [s.value for s in app.subheader]


def test_overlong_question_names_the_limit(app):
    ask(app, question="word " * 200)
    assert len(app.error) == 1
    assert f"limit is {MAX_QUESTION_CHARS}" in app.error[0].value
    assert not app.metric


def test_missing_scratch_model_fails_only_its_column(micro_env, monkeypatch, tmp_path):
    missing = tmp_path / "no-such-model"
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(missing))
    monkeypatch.chdir(PROJECT_ROOT)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    ask(at, question=QUESTION)
    columns = path_columns(at)
    scratch_errors = [e.value for e in columns["scratch"].error]
    assert len(scratch_errors) == 1 and "not found" in scratch_errors[0], scratch_errors
    assert str(missing) in scratch_errors[0]
    assert not metric_labels(columns["scratch"])
    for path_id in ("prompt", "lora", "rag"):
        assert_answered(columns[path_id])
    assert len(at.metric) == 9
    assert latency_chart_present(at)


def _adapter_for_another_base(micro_models, root: Path) -> Path:
    """A LoRA adapter made by the recipe's own functions, but on a base 48 wide instead of the micro 32."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    from fourpaths.training.base import PRESETS as BASE_PRESETS, BaseShape, build_model
    from fourpaths.training.lora import PRESETS as LORA_PRESETS, target_modules_for

    micro_shape = BASE_PRESETS["micro"][0]
    other_shape = BaseShape(micro_shape.vocab_size, 48, 2, 2, 1, 96, micro_shape.max_positions)
    assert other_shape.hidden != micro_shape.hidden
    tokenizer = AutoTokenizer.from_pretrained(micro_models["base"])
    model = build_model(other_shape, tokenizer, seed=1)
    lora_shape = LORA_PRESETS["micro"][0]
    config = LoraConfig(r=lora_shape.rank, lora_alpha=lora_shape.alpha, lora_dropout=lora_shape.dropout,
                        target_modules=list(target_modules_for(model)), task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    output = root / "lora-for-another-base"
    peft_model.save_pretrained(output, safe_serialization=True)
    assert (output / "adapter_model.safetensors").exists()
    return output


def test_adapter_for_another_base_fails_only_the_lora_column(micro_env, micro_models, monkeypatch, tmp_path):
    adapter = _adapter_for_another_base(micro_models, tmp_path)
    monkeypatch.setenv("FOURPATHS_LORA_ADAPTER", str(adapter))
    monkeypatch.chdir(PROJECT_ROOT)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    ask(at, question=QUESTION)
    columns = path_columns(at)
    lora_errors = [e.value for e in columns["lora"].error]
    assert len(lora_errors) == 1 and "does not fit" in lora_errors[0], lora_errors
    assert not metric_labels(columns["lora"])
    for path_id in ("prompt", "rag", "scratch"):
        assert_answered(columns[path_id])
    assert latency_chart_present(at)
    # the app keeps working: a second question, through a preset this time, is answered the same way
    ask(at, preset=at.selectbox(key="preset").options[1])
    columns = path_columns(at)
    assert "does not fit" in columns["lora"].error[0].value
    for path_id in ("prompt", "rag", "scratch"):
        assert_answered(columns[path_id])
