"""Settings: defaults, a TOML file and environment variables, in that order; bad values are clear errors."""

from __future__ import annotations

import pytest

from fourpaths.config import PROJECT_ROOT, Settings, load_settings, resolve_location, validate_question
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
    from fourpaths.config import RAG_ANSWER_MODES, RETRIEVAL_MODES, validate_settings
    from fourpaths.prompts import PROMPT_TEMPLATES

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
