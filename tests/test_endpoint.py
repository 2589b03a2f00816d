"""The OpenAI-compatible engine against a real HTTP server on 127.0.0.1 (tests/openai_server.py) serving the micro
base and its generative adapter: the same answers as the local engine, streamed; every failure one line in its
own column; the paths that cannot run on an endpoint say so and answer locally."""

from __future__ import annotations

import json
import socket

import pytest
from conftest import settings_with
from openai_server import TinyOpenAIServer

from fourpaths.answering import endpoint
from fourpaths.answering.pipeline import ask, ask_stream
from fourpaths.cli import main
from fourpaths.config import load_settings, validate_settings
from fourpaths.errors import FourpathsError
from fourpaths.types import TokenEvent

QUESTION = "How many days of paid annual leave does an employee receive?"
SERVED = ("prompt", "lora", "rag")


@pytest.fixture(scope="module")
def server(micro_models):
    served = TinyOpenAIServer(str(micro_models["base"]), {"taught": str(micro_models["lora-generative"])})
    yield served
    served.close()


@pytest.fixture
def generative(micro_models, micro_settings, warm_index):
    """The micro models with the generative adapter on the LoRA path and the base writing RAG answers."""
    endpoint.forget()
    return settings_with(micro_settings, lora_adapter=str(micro_models["lora-generative"]), rag_answer="generated",
                         prompt_constraints=False, max_new_tokens=12)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_served_answers_match_the_local_engine(server, generative):
    local = ask(QUESTION, generative, SERVED)
    served_settings = settings_with(generative, engine="openai", endpoint_url=server.url, endpoint_adapter="taught")
    served = ask(QUESTION, served_settings, SERVED)
    for path_id in SERVED:
        assert not isinstance(served[path_id], str), served[path_id]
        assert served[path_id].text == local[path_id].text, path_id
        assert served[path_id].new_tokens == local[path_id].new_tokens, path_id
        assert served[path_id].model.endswith(f"at {server.url}"), served[path_id].model
        assert served[path_id].facts["engine"] == f"endpoint {server.url}"
    assert served["lora"].model.startswith("taught at ")
    assert "[user]\n" + QUESTION in served["prompt"].input  # the messages sent, shown as the input
    assert served["rag"].sources and served["rag"].facts["passages_in_prompt"] == len(served["rag"].sources)


def test_served_answers_stream_piece_by_piece(server, generative):
    settings = settings_with(generative, engine="openai", endpoint_url=server.url, endpoint_adapter="taught",
                             max_new_tokens=16)
    pieces = [event for event in ask_stream(QUESTION, settings, ["prompt"]) if isinstance(event, TokenEvent)]
    result = ask(QUESTION, settings, ["prompt"])["prompt"]
    assert len(pieces) > 1 and "".join(piece.text for piece in pieces).strip() == result.text


def test_one_path_on_the_endpoint_the_others_here(server, generative):
    settings = settings_with(generative, rag_engine="openai", endpoint_url=server.url)
    results = ask(QUESTION, settings)
    assert results["rag"].model == f"base at {server.url}"
    assert results["prompt"].model == generative.base_model and results["scratch"].model == generative.scratch_model


def test_every_endpoint_failure_is_one_line_in_its_own_column(server, generative):
    down = settings_with(generative, engine="openai", endpoint_url=f"http://127.0.0.1:{_closed_port()}/v1")
    results = ask(QUESTION, down)
    for path_id in SERVED:
        assert isinstance(results[path_id], str) and "\n" not in results[path_id]
        assert "cannot be reached" in results[path_id] and "fourpaths serve" in results[path_id]
    assert not isinstance(results["scratch"], str)  # the local path answers regardless

    unknown = settings_with(generative, engine="openai", endpoint_url=server.url, endpoint_adapter="nonesuch")
    message = ask(QUESTION, unknown, ["lora"])["lora"]
    assert message == (f"endpoint {server.url} serves no model named 'nonesuch' (endpoint_adapter); it serves: "
                       "base, taught")


def test_a_key_the_server_refuses_and_a_slow_server(micro_models, generative, monkeypatch):
    locked = TinyOpenAIServer(str(micro_models["base"]), {}, api_key="right-key")
    slow = TinyOpenAIServer(str(micro_models["base"]), {}, delay_s=3.0)
    try:
        monkeypatch.setenv("FOURPATHS_API_KEY", "wrong-key")
        locked_settings = settings_with(generative, engine="openai", endpoint_url=locked.url)
        message = ask(QUESTION, locked_settings, ["prompt"])["prompt"]
        assert message.startswith(f"endpoint {locked.url} refused the key (401)")
        monkeypatch.setenv("FOURPATHS_API_KEY", "right-key")
        assert not isinstance(ask(QUESTION, locked_settings, ["prompt"])["prompt"], str)
        monkeypatch.delenv("FOURPATHS_API_KEY")
        message = ask(QUESTION, settings_with(generative, engine="openai", endpoint_url=slow.url, endpoint_timeout=1.0),
                      ["prompt"])["prompt"]
        assert message.startswith(f"endpoint {slow.url} did not answer in time")
    finally:
        locked.close()
        slow.close()


def test_the_answer_head_and_the_reader_say_they_run_here(server, micro_settings, warm_index):
    endpoint.forget()
    settings = settings_with(micro_settings, engine="openai", endpoint_url=server.url, rag_answer="reader")
    results = ask(QUESTION, settings, ["lora", "rag"])
    assert results["lora"].mode == "answer head" and results["lora"].facts["engine"].startswith("local (an answer head")
    assert results["rag"].mode == "extractive reader"
    assert results["rag"].facts["engine"].startswith("local (the extractive reader")


def test_ask_json_through_the_endpoint(server, generative, micro_env, monkeypatch, capsys):
    for name, value in {"ENGINE": "openai", "ENDPOINT_URL": server.url, "ENDPOINT_ADAPTER": "taught",
                        "LORA_ADAPTER": generative.lora_adapter, "RAG_ANSWER": "generated"}.items():
        monkeypatch.setenv(f"FOURPATHS_{name}", value)
    assert main(["ask", QUESTION, "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)["answers"]
    assert [answers[path_id]["model"] for path_id in SERVED] == [f"{name} at {server.url}" for name in
                                                                 ("base", "taught", "base")]
    assert answers["scratch"]["model"] == micro_env.scratch_model


def test_engine_settings_are_checked(tmp_path):
    with pytest.raises(FourpathsError, match="setting engine = 'vllm' must be one of local, openai"):
        validate_settings(load_settings(environ={"FOURPATHS_ENGINE": "vllm"}))
    with pytest.raises(FourpathsError, match="setting rag_engine must be one of local, openai"):
        validate_settings(load_settings(environ={"FOURPATHS_RAG_ENGINE": "remote"}))
    config = tmp_path / "fourpaths.toml"
    config.write_text('api_key = "sk-secret"\n')  # a key never comes from a file
    with pytest.raises(FourpathsError, match="unknown setting"):
        load_settings(config, environ={})


def test_bench_reports_the_served_engine_beside_the_local_one(server, generative):
    from fourpaths.measure.served_bench import QUESTIONS, run_served_bench, summary

    result = run_served_bench(settings_with(generative, endpoint_url=server.url, endpoint_adapter="taught"), rounds=1)
    assert set(result["paths"]) == set(SERVED) and result["questions_at_once"] == len(QUESTIONS) == 4
    assert result["compared_by"] == "text"  # this server gives no token ids; vLLM does
    assert result["answers_compared_with_local"] == 4 * len(SERVED) and result["answers_differing_from_local"] == 0
    assert result["concurrent_wall_ms"] > 0 and result["sequential_wall_ms"] > 0
    assert summary(result)[-1].endswith("0 of 12 answers given together differ from the local engine's (text)")


def test_the_served_lora_path_needs_no_adapter_folder_here(server, generative):
    settings = settings_with(generative, lora_adapter="", engine="openai", endpoint_url=server.url,
                             endpoint_adapter="taught")
    assert ask(QUESTION, settings, ["lora"])["lora"].model == f"taught at {server.url}"
    assert ask(QUESTION, settings_with(settings, engine="local"), ["lora"])["lora"] == \
        "no LoRA adapter configured (setting lora_adapter is empty)"
