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
    ({"retrieval": "keyword"}, "setting retrieval = 'keyword' must be one of hybrid, dense"),
    ({"rag_answer": "guess"}, "setting rag_answer = 'guess' must be one of auto, reader, generated"),
    ({"template": "telepathy"}, "setting template = 'telepathy' is no prompt template"),
    ({"max_new_tokens": 0}, "setting max_new_tokens = 0 is out of range: it must be from 1"),
    ({"top_k_passages": 0}, "setting top_k_passages = 0 is out of range: it must be from 1"),
    ({"temperature": -0.1}, "setting temperature = -0.1 is out of range: it must be from 0 or 0.01"),
    ({"threads": -1}, "setting threads = -1 is out of range"),
    ({"few_shot_examples": -1}, "setting few_shot_examples = -1 is out of range"),
    ({"chunk_words": 20, "chunk_overlap": 20}, "setting chunk_overlap = 20 must be less than chunk_words = 20"),
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


# --- Bounds (issue 28): every number checked at load, the message naming the setting, its value and its range ----


@pytest.mark.parametrize("variable, value, message", [
    ("FOURPATHS_TOP_K_PASSAGES", "100000", "setting top_k_passages = 100000 is out of range: it must be from 1 to 50"),
    ("FOURPATHS_THREADS", "4096", "setting threads = 4096 is out of range: it must be from 0 to "),
    ("FOURPATHS_CHUNK_WORDS", "0", "setting chunk_words = 0 is out of range: it must be from 5 to 200"),
    ("FOURPATHS_CHUNK_OVERLAP", "60", "setting chunk_overlap = 60 must be less than chunk_words = 50"),
    ("FOURPATHS_SEED", str(2 ** 70), f"setting seed = {2 ** 70} is out of range: it must be from 0 to 4,294,967,295"),
    ("FOURPATHS_TEMPERATURE", "1e-320", "setting temperature = 1e-320 is out of range: it must be from 0 or 0.01"),
    ("FOURPATHS_MAX_NEW_TOKENS", "1000000", "setting max_new_tokens = 1000000 is out of range"),
    ("FOURPATHS_FEW_SHOT_EXAMPLES", "500", "setting few_shot_examples = 500 is out of range"),
    ("FOURPATHS_CONCURRENT_QUESTIONS", "1000", "setting concurrent_questions = 1000 is out of range"),
    ("FOURPATHS_CONCURRENT_TEACHING", "0", "setting concurrent_teaching = 0 is out of range"),
    ("FOURPATHS_INDEX_DIR", "/", "setting index_dir = '/' is the file system's root: give a folder of its own"),
])
def test_a_setting_out_of_its_bounds_is_refused_at_load_naming_it(variable, value, message):
    with pytest.raises(FourpathsError) as raised:
        load_settings(environ={variable: value})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_bounds_hold_for_the_config_file_and_for_settings_made_in_code(tmp_path):
    from fourpaths.config import validate_settings

    config = tmp_path / "fp.toml"
    config.write_text("top_k_passages = 100000\n")
    with pytest.raises(FourpathsError, match=f"{re.escape(str(config))}: setting top_k_passages = 100000 is out"):
        load_settings(config, environ={})
    with pytest.raises(FourpathsError, match="setting seed = 4294967296 is out of range"):
        validate_settings(Settings(seed=2 ** 32))
    for name in ("top_k_passages", "chunk_words", "seed", "threads", "max_new_tokens", "concurrent_teaching"):
        validate_settings(Settings(**{name: getattr(Settings(), name)}))  # the defaults are inside the bounds


def _fifo(tmp_path):
    import os

    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("make, message", [
    (_fifo, "it is not a regular file (a pipe, socket or device)"),
    (lambda tmp_path: "/dev/zero", "it is not a regular file (a pipe, socket or device)"),
    (lambda tmp_path: tmp_path, "it is a folder, not a file"),
    (lambda tmp_path: tmp_path / "missing.toml", "No such file or directory"),
    (lambda tmp_path: _write(tmp_path, b"seed = 1\n" + b"#" * 70_000), "it is over 65,536 bytes"),
    (lambda tmp_path: _write(tmp_path, "seed = 1 # caf\u00e9\n".encode("latin-1")), "not UTF-8 text (byte 0xe9"),
    (lambda tmp_path: _write(tmp_path, b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n"), "nested too deeply"),
], ids=["fifo", "dev-zero", "folder", "missing", "oversized", "latin-1", "nested-5000"])
def test_a_config_file_that_is_no_settings_file_is_one_line_at_once(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(FourpathsError) as raised:
        load_settings(environ={"FOURPATHS_CONFIG": str(path)})
    assert str(raised.value).startswith(f"cannot read config file {path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)


def _write(tmp_path, data: bytes):
    path = tmp_path / "fp.toml"
    path.write_bytes(data)
    return path
