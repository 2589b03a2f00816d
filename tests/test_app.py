"""The app and its Compare page, driven through Streamlit's AppTest against the micro models the recipes train."""

from __future__ import annotations

import json
import re
import shutil
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
from streamlit.testing.v1 import AppTest

from fourpaths.answering.paths import PATH_IDS
from fourpaths.config import MAX_QUESTION_CHARS


@pytest.fixture
def app(micro_env, monkeypatch) -> AppTest:
    return start(monkeypatch)








def latency_chart_present(at: AppTest) -> bool:
    """The Latency subheader, and the chart under it: the only chart on the Compare page."""
    return "Latency" in [s.value for s in at.subheader] and len(at.main.get("vega_lite_chart")) == 1






def test_app_runs_and_loads_every_model_without_a_problem(app):
    assert not app.exception and not app.error
    assert app.sidebar.header[0].value == "Settings"
    assert not sidebar_warnings(app)


def test_page_renders_title_presets_and_ask_button(app):
    assert [t.value for t in app.title] == ["One question, four paths"]
    presets = app.selectbox(key="preset")
    assert presets.label == "Preset questions"
    assert presets.options[0] == "(type your own)"
    assert len(presets.options) > 1, "the small corpus should give preset questions"
    assert [b.label for b in app.button] == ["Ask"]
    assert not app.warning, [w.value for w in app.warning]


def test_preset_question_gets_four_answers_with_latency_and_downloads(app):
    preset = app.selectbox(key="preset").options[1]
    ask(app, preset=preset)
    assert app.text_area[0].value, "choosing a preset should fill the question"
    for path_id, column in path_columns(app).items():
        assert_answered(column, path_id)
    assert len(timing_captions(app)) == len(PATH_IDS)
    assert latency_chart_present(app)
    walls = [c.value for c in app.caption if c.value.startswith("From Ask to the last answer")]
    assert len(walls) == 1 and "the four paths run at once" in walls[0], walls
    downloads = [d.proto.label for d in app.get("download_button")]
    assert downloads == ["Download answers (JSON)", "Download answers (Markdown)",
                         "Download the session report (HTML)"], downloads
    assert not app.error, [e.value for e in app.error]


def test_typed_question_gets_four_answers(app):
    ask(app, question=QUESTION)
    for path_id, column in path_columns(app).items():
        assert_answered(column, path_id)
    assert latency_chart_present(app)


def test_the_rag_anatomy_shows_what_it_retrieved_and_what_the_reader_read(app, micro_env):
    ask(app, question=QUESTION)
    rag = path_columns(app)["rag"]
    assert any(m.value.startswith("**Retrieved passages**, by similarity") for m in rag.markdown)
    listed = [c.value for c in rag.caption if c.value.startswith("[") and " — score " in c.value]
    assert len(listed) == micro_env.top_k_passages
    scores = [float(caption.split(" — score ")[1].split(",")[0]) for caption in listed]
    assert scores == sorted(scores, reverse=True)  # in score order, each keeping the number the reader saw
    assert sorted(caption.split("]")[0] for caption in listed) == [f"[{n}" for n in range(1, len(listed) + 1)]
    assert any(caption.replace("\\", "").startswith("[1] docs/hr-annual-leave-policy.md") for caption in listed)
    given = rag.code[0].value  # the reader's input: the question and the numbered passages
    assert given.startswith(f"Question: {QUESTION}") and "[1] " in given
    assert any(m.value == f"**Model**: `{micro_env.reader_model}`" for m in rag.markdown)


def _lenient_reader(micro_models, root: Path) -> Path:
    """The micro reader with a threshold so low that it always answers."""
    folder = shutil.copytree(micro_models["reader"], root / "lenient-reader")
    config = folder / "reader_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "threshold": -1e9}))
    return folder


def test_a_reader_that_answers_shows_the_sentence_it_cites(micro_env, micro_models, monkeypatch, tmp_path):
    monkeypatch.setenv("FOURPATHS_READER_MODEL", str(_lenient_reader(micro_models, tmp_path)))
    at = ask(start(monkeypatch), question=QUESTION)
    rag = path_columns(at)["rag"]
    cited = [c.value for c in rag.caption if c.value.endswith(", the answer between » and «:")]
    assert len(cited) == 1 and cited[0].startswith("[") and "docs/" in cited[0], cited
    sentence = [t.value for t in rag.text if "»" in t.value]
    assert len(sentence) == 1 and "«" in sentence[0]
    assert_answered(rag, "rag")


def test_empty_question_is_an_error(app):
    ask(app, question="   ")
    assert len(app.error) == 1
    assert "empty" in app.error[0].value
    assert not timing_captions(app)
    assert "Latency" not in [s.value for s in app.subheader]


def test_overlong_question_names_the_limit(app):
    ask(app, question="word " * 200)
    assert len(app.error) == 1
    assert f"limit is {MAX_QUESTION_CHARS}" in app.error[0].value
    assert not timing_captions(app)


def test_a_fresh_machine_builds_the_index_while_loading_then_rebuilds_it_when_a_document_changes(
        micro_env, small_corpus, monkeypatch, tmp_path):
    corpus = shutil.copytree(small_corpus, tmp_path / "corpus")
    monkeypatch.setenv("FOURPATHS_CORPUS_ROOT", str(corpus))
    monkeypatch.setenv("FOURPATHS_INDEX_DIR", str(tmp_path / "fresh-index"))
    at = start(monkeypatch)
    assert (tmp_path / "fresh-index").is_dir() and any((tmp_path / "fresh-index").iterdir())
    assert not sidebar_warnings(at)
    ask(at, question=QUESTION)
    assert not [c.value for c in at.caption if c.value.startswith("Search index built")]
    for path_id, column in path_columns(at).items():
        assert_answered(column, path_id)
    document = corpus / "docs" / "hr-annual-leave-policy.md"
    document.write_text(document.read_text(encoding="utf-8") + "\nThe canteen now opens at seven.\n", encoding="utf-8")
    ask(at, question=QUESTION)
    built = [c.value for c in at.caption if c.value.startswith("Search index built for this question")]
    assert len(built) == 1 and re.search(r" [\d,]+ chunks and [1-9][\d,]* sentences embedded in ", built[0]), built
    for path_id, column in path_columns(at).items():  # the rebuild runs on the RAG path's thread
        assert_answered(column, path_id)


def test_missing_scratch_model_fails_only_its_column(micro_env, monkeypatch, tmp_path):
    missing = tmp_path / "no-such-model"
    monkeypatch.setenv("FOURPATHS_SCRATCH_MODEL", str(missing))
    at = start(monkeypatch)
    assert sidebar_warnings(at) == [f"the scratch model: model folder not found: {missing}"]
    ask(at, question=QUESTION)
    columns = path_columns(at)
    scratch_errors = [shown(e.value) for e in columns["scratch"].error]
    assert scratch_errors == [f"model folder not found: {missing}"], scratch_errors
    assert not timing_captions(columns["scratch"])
    for path_id in ("prompt", "lora", "rag"):
        assert_answered(columns[path_id], path_id)
    assert len(timing_captions(at)) == 3
    assert latency_chart_present(at)


def _adapter_for_another_base(micro_models, root: Path) -> Path:
    """A generative LoRA adapter for a base like the micro one but 48 wide instead of its width."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(micro_models["base"])
    assert config.hidden_size != 48
    wider = AutoConfig.from_pretrained(micro_models["base"], hidden_size=48, intermediate_size=96)
    model = AutoModelForCausalLM.from_config(wider)
    adapter = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    output = root / "lora-for-another-base"
    adapter.save_pretrained(output)
    assert (output / "adapter_model.safetensors").exists()
    return output


def test_adapter_for_another_base_fails_only_the_lora_column(micro_env, micro_models, monkeypatch, tmp_path):
    adapter = _adapter_for_another_base(micro_models, tmp_path)
    monkeypatch.setenv("FOURPATHS_LORA_ADAPTER", str(adapter))
    at = start(monkeypatch)
    warnings = sidebar_warnings(at)
    assert len(warnings) == 1 and warnings[0].startswith("the LoRA adapter: ") and "does not fit" in warnings[0]
    ask(at, question=QUESTION)
    columns = path_columns(at)
    lora_errors = [shown(e.value) for e in columns["lora"].error]
    assert len(lora_errors) == 1 and "does not fit" in lora_errors[0] and str(adapter) in lora_errors[0]
    assert not timing_captions(columns["lora"])
    for path_id in ("prompt", "rag", "scratch"):
        assert_answered(columns[path_id], path_id)
    assert latency_chart_present(at)
    # the app keeps working: a second question, through a preset this time, is answered the same way
    ask(at, preset=at.selectbox(key="preset").options[1])
    columns = path_columns(at)
    assert "does not fit" in columns["lora"].error[0].value
    for path_id in ("prompt", "rag", "scratch"):
        assert_answered(columns[path_id], path_id)


def test_configured_settings_reach_the_sidebar_and_the_answers(micro_env, monkeypatch):
    """A setting from the environment is the sidebar's default and reaches the paths. (The sidebar is read on
    the first run only: under AppTest, st.navigation's reruns leave the sidebar out of the element tree.)"""
    monkeypatch.setenv("FOURPATHS_TEMPLATE", "few-shot")
    at = start(monkeypatch)
    assert at.sidebar.selectbox[0].label.startswith("Prompt template") and at.sidebar.selectbox[0].value == "few-shot"
    ask(at, question=QUESTION)
    prompt = path_columns(at)["prompt"]
    assert_answered(prompt, "prompt")
    assert prompt.code[0].value.count("<|user|>") == 1 + micro_env.few_shot_examples  # the examples, then it
    assert json.loads(prompt.json[0].value)["template"] == "few-shot"


@pytest.mark.parametrize("page", ["pages/scoreboard.py", "pages/cost.py", "pages/choose.py"])
def test_every_other_page_renders_without_an_exception(app, page):
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title, "every page has a title"


def test_a_settings_switch_keeps_the_answers_and_marks_them_against_the_reference(micro_settings, monkeypatch):
    """The Compare page on its own: a question from the sets is asked, the template changes (a rerun), the
    answers stay under the settings they were asked with; asked again, the history holds both rows."""
    from dataclasses import replace

    from fourpaths.config import PROJECT_ROOT
    from fourpaths.views.session import mark, reference_for

    monkeypatch.syspath_prepend(str(PROJECT_ROOT))  # ui/, as `streamlit run app.py` finds it
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "compare.py"), default_timeout=300)
    at.session_state["settings"] = micro_settings
    at.run()
    reference = reference_for(micro_settings.corpus_root, at.selectbox(key="preset").options[1].split("  (")[0])
    assert reference is not None
    ask(at, preset=at.selectbox(key="preset").options[1])
    history = at.session_state["compare_history"]
    first = history.latest
    assert len(history) == 1 and first.reference == reference
    for path_id, column in path_columns(at).items():
        assert_answered(column, path_id)
        badge = [b.proto.body for b in column.get("markdown") if b.proto.body.startswith(":")]
        expected = mark(first.results[path_id], reference)
        assert any(expected.label in body for body in badge), (path_id, badge, expected.label)
    at.session_state["settings"] = replace(micro_settings, template="few-shot")
    at.run()
    assert any(c.value.startswith("Asked ") and "with zero-shot" in c.value for c in at.caption)
    for path_id, column in path_columns(at).items():
        assert_answered(column, path_id)  # still there after the switch
    ask(at)
    assert len(history) == 2 and "few-shot" in history.latest.settings and history.entries[0] is first
    assert [s.value for s in at.subheader if s.value.startswith("This session's")] == ["This session's questions (2)"]
    table = at.dataframe[0].value
    assert len(table) == 2 and list(table["settings"]) == [first.settings, history.latest.settings]
    next(b for b in at.button if b.label == "Clear the history").click().run()
    assert len(history) == 0
