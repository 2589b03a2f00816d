"""Settings: defaults, a TOML file and environment variables, in that order; bad values are clear errors."""

from __future__ import annotations

import re

import pytest

from fourpaths.config import (
    PROJECT_ROOT,
    Settings,
    load_settings,
    resolve_location,
    validate_question,
)
from fourpaths.errors import FourpathsError


def test_defaults_point_into_the_project(tmp_path):
    settings = load_settings(environ={})
    assert settings == Settings() or (PROJECT_ROOT / "fourpaths.toml").exists()
    assert resolve_location("models/base") == str(PROJECT_ROOT / "models" / "base")


def test_file_then_environment_override(tmp_path):
    config = tmp_path / "fp.toml"
    config.write_text('[fourpaths]\nbase_model = "HuggingFaceTB/SmolLM2-135M-Instruct"\ntop_k_passages = 5\n')
    settings = load_settings(config, environ={"FOURPATHS_TOP_K_PASSAGES": "2", "FOURPATHS_TEMPERATURE": "0.5"})
    assert settings.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert settings.top_k_passages == 2
    assert settings.temperature == 0.5


def test_config_file_from_environment_variable(tmp_path):
    config = tmp_path / "fp.toml"
    config.write_text('max_new_tokens = 12\n')
    assert load_settings(environ={"FOURPATHS_CONFIG": str(config)}).max_new_tokens == 12


def test_hub_ids_pass_through_unchanged():
    assert resolve_location("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("content, message", [
    ("no_such_setting = 1\n", "unknown setting"),
    ("top_k_passages = 'many'\n", "must be int"),
    ("this is not toml", "cannot read config file"),
])
def test_bad_config_files_are_one_line_errors(tmp_path, content, message):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(FourpathsError, match=message):
        load_settings(config, environ={})


@pytest.mark.parametrize("question, message", [("", "empty"), ("   \n ", "empty"), ("x" * 501, "limit is 500")])
def test_questions_are_validated(question, message):
    with pytest.raises(FourpathsError, match=message):
        validate_question(question)


def test_question_whitespace_is_collapsed():
    assert validate_question("  How many\n days? ") == "How many days?"


@pytest.mark.parametrize("change, message", [
    ({"retrieval": "keyword"}, "retrieval must be one of hybrid, dense"),
    ({"rag_answer": "guess"}, "rag_answer must be one of auto, reader, generated"),
    ({"template": "telepathy"}, "unknown prompt template 'telepathy'"),
    ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
    ({"top_k_passages": 0}, "top_k_passages must be at least 1"),
    ({"temperature": -0.1}, "temperature must be 0"),
    ({"threads": -1}, "threads must be 0"),
    ({"few_shot_examples": -1}, "few_shot_examples must be 0 or more"),
])
def test_settings_no_path_could_honour_are_refused(change, message):
    from fourpaths.config import validate_settings

    with pytest.raises(FourpathsError, match=message):
        validate_settings(Settings(**change))


def test_valid_settings_pass():
    from fourpaths.answering.prompts import PROMPT_TEMPLATES
    from fourpaths.config import RAG_ANSWER_MODES, RETRIEVAL_MODES, validate_settings

    for retrieval in RETRIEVAL_MODES:
        for rag_answer in RAG_ANSWER_MODES:
            validate_settings(Settings(retrieval=retrieval, rag_answer=rag_answer))
    for template in PROMPT_TEMPLATES:
        validate_settings(Settings(template=template))


def test_the_shipped_models_are_the_defaults():
    settings = Settings()
    assert (settings.base_model, settings.lora_adapter, settings.reader_model, settings.scratch_model) == \
        ("models/base", "models/lora", "models/reader", "models/scratch")
    assert settings.rag_answer == "auto" and settings.top_k_passages == 5 and settings.temperature == 0.0


def test_every_setting_can_come_from_the_environment():
    settings = load_settings(environ={"FOURPATHS_READER_MODEL": "/elsewhere/reader", "FOURPATHS_RAG_ANSWER": "reader",
                                      "FOURPATHS_THREADS": "2"})
    assert (settings.reader_model, settings.rag_answer, settings.threads) == ("/elsewhere/reader", "reader", 2)
    with pytest.raises(FourpathsError, match="setting threads must be int"):
        load_settings(environ={"FOURPATHS_THREADS": "two"})


# --- Broken configuration (issue 21): refused with the key's name, and the variable's or the file's ----------


def test_a_misspelt_environment_variable_is_refused_with_the_setting_it_meant():
    misspelt = "FOURPATHS_" + "TOP_K"  # spelt in two parts, so the scan below does not take it for a real one
    with pytest.raises(FourpathsError, match=f"unknown environment variable {misspelt}: did you mean "
                                             "FOURPATHS_TOP_K_PASSAGES"):
        load_settings(environ={misspelt: "3"})
    with pytest.raises(FourpathsError, match="did you mean FOURPATHS_TEMPERATURE"):
        load_settings(environ={"FOURPATHS_" + "TEMPRATURE": "0.5"})
    with pytest.raises(FourpathsError, match="no setting has that name"):
        load_settings(environ={"FOURPATHS_" + "XYZZY": "1"})
    assert load_settings(environ={"NOT_FOURPATHS_" + "TOP_K": "3", "PATH": "/bin"}) == load_settings(environ={})


def test_the_projects_other_variables_are_not_settings_and_are_accepted(tmp_path):
    from fourpaths.config import OTHER_VARIABLES

    config = tmp_path / "fp.toml"
    config.write_text("seed = 4\n")
    environ = {name: "1" for name in OTHER_VARIABLES} | {"FOURPATHS_CONFIG": str(config)}
    assert load_settings(environ=environ).seed == 4


def test_every_fourpaths_variable_the_project_names_is_a_setting_or_listed():
    """A new FOURPATHS_ variable read anywhere must be a setting or in OTHER_VARIABLES, or load_settings would
    refuse the environment that sets it."""
    from dataclasses import fields

    from fourpaths.config import OTHER_VARIABLES

    settings = {f"FOURPATHS_{f.name.upper()}" for f in fields(Settings)}
    places = [PROJECT_ROOT / "app.py", PROJECT_ROOT / "README.md", *(PROJECT_ROOT / ".ci").glob("*")]
    for folder in ("fourpaths", "pages", "tests"):
        places += (PROJECT_ROOT / folder).rglob("*.py")
    named = {name for path in places if path.is_file()
             for name in re.findall(r"FOURPATHS_[A-Z][A-Z0-9_]*", path.read_text(encoding="utf-8"))}
    assert "FOURPATHS_BASE_MODEL" in named and "FOURPATHS_REQUIRE_BROWSER" in named  # the scan does see them
    assert named - settings - OTHER_VARIABLES == set()


@pytest.mark.parametrize("line, message", [
    ('top_k_passages = "5"', "{config}: setting top_k_passages must be int (a whole number), got '5' (quoted text"),
    ("top_k_passages = true", "{config}: setting top_k_passages must be int (a whole number), got True"),
    ("top_k_passages = [5]", "{config}: setting top_k_passages must be int (a whole number), got [5]"),
    ("top_k_passages = 5.5", "{config}: setting top_k_passages must be int (a whole number), got 5.5"),
    ("temperature = true", "{config}: setting temperature must be float (a number), got True"),
    ("temperature = inf", "{config}: setting temperature must be float (a number), got inf (not a finite number)"),
    ("base_model = 5", "{config}: setting base_model must be str (text), got 5"),
    ("retrieval = ['hybrid']", "{config}: setting retrieval must be str (text), got ['hybrid']"),
    ("fourpaths = 3", "{config}: fourpaths must be a table of settings"),
    ("top_k = 3", "unknown setting(s) in {config}: top_k (top_k: did you mean top_k_passages?)"),
    ("[fourpaths]\nseed = 1\n[other]\nseed = 2", "unknown setting(s) in {config}: other"),
])
def test_a_config_file_value_of_the_wrong_type_is_refused_naming_the_file_and_key(tmp_path, line, message):
    config = tmp_path / "fp.toml"
    config.write_text(line + "\n")
    with pytest.raises(FourpathsError) as raised:
        load_settings(config, environ={})
    assert message.format(config=config) in str(raised.value) and "\n" not in str(raised.value)


def test_a_whole_number_is_a_float_setting_and_a_float_stays_one(tmp_path):
    config = tmp_path / "fp.toml"
    config.write_text("temperature = 1\n")
    settings = load_settings(config, environ={})
    assert settings.temperature == 1.0 and isinstance(settings.temperature, float)


@pytest.mark.parametrize("variable, value, message", [
    ("FOURPATHS_TOP_K_PASSAGES", "abc", "FOURPATHS_TOP_K_PASSAGES='abc': setting top_k_passages must be int"),
    ("FOURPATHS_TOP_K_PASSAGES", "5.0", "FOURPATHS_TOP_K_PASSAGES='5.0': setting top_k_passages must be int"),
    ("FOURPATHS_TOP_K_PASSAGES", "", "FOURPATHS_TOP_K_PASSAGES='': setting top_k_passages must be int"),
    ("FOURPATHS_TEMPERATURE", "nan", "FOURPATHS_TEMPERATURE='nan': setting temperature must be float"),
    ("FOURPATHS_TEMPERATURE", "warm", "FOURPATHS_TEMPERATURE='warm': setting temperature must be float"),
])
def test_an_environment_variable_with_a_bad_value_is_refused_naming_it_and_the_key(variable, value, message):
    with pytest.raises(FourpathsError, match=re.escape(message)):
        load_settings(environ={variable: value})


def test_environment_numbers_are_parsed_with_spaces_around():
    settings = load_settings(environ={"FOURPATHS_TOP_K_PASSAGES": " 3 ", "FOURPATHS_TEMPERATURE": "0.5"})
    assert (settings.top_k_passages, settings.temperature) == (3, 0.5)


@pytest.mark.parametrize("name", ["index_dir", "results_dir"])
@pytest.mark.parametrize("value, allowed", [
    ("../elsewhere", False),
    ("index/../../elsewhere", False),
    (".", False),
    ("", False),
    ("build/index", True),
    ("results/../index-copy", True),
    ("/tmp/anywhere", True),  # absolute: the explicit choice to write elsewhere
])
def test_folders_the_app_writes_stay_inside_the_project_unless_given_absolute(tmp_path, name, value, allowed):
    from fourpaths.config import validate_settings

    variable = f"FOURPATHS_{name.upper()}"
    config = tmp_path / "fp.toml"
    config.write_text(f"{name} = {value!r}\n".replace("'", '"'))
    if allowed:
        assert getattr(load_settings(environ={variable: value}), name) == value
        assert getattr(load_settings(config, environ={}), name) == value
        validate_settings(Settings(**{name: value}))
        return
    with pytest.raises(FourpathsError, match=f"^{variable}='{re.escape(value)}': setting {name} = .* is (outside the "
                                             f"project folder|the project folder itself) {PROJECT_ROOT}"):
        load_settings(environ={variable: value})
    with pytest.raises(FourpathsError, match=f"^{re.escape(str(config))}: setting {name}"):
        load_settings(config, environ={})
    with pytest.raises(FourpathsError, match=f"setting {name} = .* an absolute path to write elsewhere on purpose"):
        validate_settings(Settings(**{name: value}))


def test_model_locations_stay_free_absolute_paths_and_hub_ids():
    settings = load_settings(environ={"FOURPATHS_BASE_MODEL": "HuggingFaceTB/SmolLM2-135M-Instruct",
                                      "FOURPATHS_READER_MODEL": "/elsewhere/reader",
                                      "FOURPATHS_CORPUS_ROOT": "../another-corpus"})  # read, never written
    assert (settings.base_model, settings.reader_model, settings.corpus_root) == \
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "/elsewhere/reader", "../another-corpus")


def test_with_overrides_refuses_unknown_names_and_booleans_for_numbers():
    from fourpaths.config import with_overrides

    with pytest.raises(FourpathsError, match=r"unknown setting\(s\): top_k"):
        with_overrides(Settings(), top_k=3)
    with pytest.raises(FourpathsError, match="setting seed must be int"):
        with_overrides(Settings(), seed=True)
    assert with_overrides(Settings(), seed=3, temperature=1, template=None).temperature == 1.0
