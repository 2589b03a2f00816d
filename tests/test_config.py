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


def test_unknown_retrieval_mode_is_refused():
    from fourpaths.config import validate_settings

    validate_settings(Settings(retrieval="dense"))
    with pytest.raises(FourpathsError, match="retrieval must be one of hybrid, dense"):
        validate_settings(Settings(retrieval="keyword"))


@pytest.mark.parametrize("change, message", [({"evidence_sentences": -1}, "evidence_sentences must be 0"),
                                             ({"min_quote_sentences": 0}, "min_quote_sentences must be at least 1")])
def test_quote_limits_are_validated(change, message):
    from fourpaths.config import validate_settings

    with pytest.raises(FourpathsError, match=message):
        validate_settings(Settings(**change))
