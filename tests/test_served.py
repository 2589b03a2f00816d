"""The production engine for real: `fourpaths serve`'s vLLM server on 127.0.0.1 with the shipped base and a
generative adapter trained here. Greedy answers token for token as the local engine gives them; base and adapter
requests batched together without one leaking into the other; `fourpaths ask --json` and the Compare page
answering through it.

Needs vLLM's environment (setting vllm_env, or FOURPATHS_VLLM_ENV; `fourpaths serve --install ENV` builds it):
skipped without it, unless FOURPATHS_REQUIRE_VLLM=1 (set by .ci/run, which builds it) makes that a failure.
The server takes one to three minutes to start on a 2-core machine."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import path_columns, settings_with

from fourpaths import serve
from fourpaths.answering import endpoint, engine, prompts
from fourpaths.answering.pipeline import ask
from fourpaths.config import PROJECT_ROOT, load_settings

QUESTIONS = ("How many days of paid annual leave does an employee receive?",
             "What is the list price of the Ferret AMR?", "Who approves a password reset?")
SERVED = ("prompt", "lora", "rag")
LOUD = 200  # the loud adapter's scale: whatever of it leaks into a base answer changes that answer


def _vllm_settings():
    settings = load_settings(environ={k: v for k, v in os.environ.items() if k == "FOURPATHS_VLLM_ENV"})
    if not serve.python_of(settings).exists():
        if os.environ.get("FOURPATHS_REQUIRE_VLLM") == "1":
            pytest.fail(f"FOURPATHS_REQUIRE_VLLM=1 but there is no vLLM environment at {settings.vllm_env}")
        pytest.skip(f"no vLLM environment at {settings.vllm_env} (fourpaths serve --install ENV builds one)")
    return settings


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, small_corpus):
    """A generative adapter for the shipped base (the recipe's micro preset) and a copy of it scaled ×LOUD."""
    from fourpaths.training.generative_adapter import train_lora

    root = tmp_path_factory.mktemp("served-adapters")
    train_lora(str(PROJECT_ROOT / "models" / "base"), small_corpus, root / "taught", root / "runs", preset="micro",
               recall_limit=2)
    shutil.copytree(root / "taught", root / "loud")
    config_path = root / "loud" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["lora_alpha"] *= LOUD
    config_path.write_text(json.dumps(config))
    return {"taught": root / "taught", "loud": root / "loud"}


@pytest.fixture(scope="module")
def server(adapters, micro_settings, warm_index, tmp_path_factory):
    """The server as `fourpaths serve` starts it, and settings for the local and the served engine."""
    base = _vllm_settings()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local = settings_with(micro_settings, base_model=str(PROJECT_ROOT / "models" / "base"),
                          lora_adapter=str(adapters["taught"]), rag_answer="generated", prompt_constraints=False,
                          max_new_tokens=24, vllm_env=base.vllm_env, endpoint_adapter="taught")
    log_path = tmp_path_factory.mktemp("vllm") / "server.log"
    with log_path.open("w") as log:
        process = serve.start(local, serve.generative_adapters(local, {"loud": str(adapters["loud"])}), port, log)
    try:
        try:
            serve.wait_ready(process, port, timeout_s=900)
        except Exception:
            pytest.fail("vLLM did not start:\n" + "\n".join(log_path.read_text().splitlines()[-15:]))
        endpoint.forget()
        yield {"local": local, "served": settings_with(local, engine="openai", endpoint_url=f"http://127.0.0.1:{port}/v1"),
               "adapters": adapters}
    finally:
        serve.stop(process)


def test_the_server_command_carries_the_workarounds(server):
    args = serve.command(server["local"], serve.generative_adapters(server["local"], {}), 8000)
    assert args[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert args[args.index("--max-loras") + 1] == "2"  # one adapter, one empty slot
    assert args[args.index("--max-lora-rank") + 1] == "8"  # the micro adapter's rank 4, raised to what vLLM takes


@pytest.mark.parametrize("question", QUESTIONS)
def test_served_greedy_answers_are_token_identical_to_local(server, question):
    local = ask(question, server["local"], SERVED)
    served = ask(question, server["served"], SERVED)
    for path_id in SERVED:
        assert not isinstance(served[path_id], str), served[path_id]
        assert served[path_id].token_ids, path_id  # vLLM gives its ids
        assert served[path_id].token_ids == local[path_id].token_ids, (path_id, served[path_id].text,
                                                                       local[path_id].text)
        assert served[path_id].text == local[path_id].text


def test_mixed_batches_show_no_contamination(server):
    """Base and loud-adapter requests at once, so vLLM batches them: each must match its local reference."""
    loud = engine.load_fresh(server["local"].base_model, str(server["adapters"]["loud"]))
    expected = {}
    for question in QUESTIONS:
        _, ids = engine.render(loud, prompts.zero_shot(question), 24)
        for name, adapter in (("base", None), ("loud", engine.ADAPTER_NAME)):
            expected[name, question] = engine.generate(loud, ids, engine.Decoding(24), adapter).ids
    assert all(expected["base", q] != expected["loud", q] for q in QUESTIONS)  # the adapter does change answers
    served = endpoint.connect(server["served"])

    def one(job):
        name, question = job
        return endpoint.generate(served, name, prompts.zero_shot(question), 24, 0.0, 0).ids

    jobs = [(name, question) for _ in range(3) for question in QUESTIONS for name in ("base", "loud")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        got = list(pool.map(one, jobs))
    wrong = [job for job, ids in zip(jobs, got) if ids != expected[job]]
    assert not wrong, wrong


def test_ask_json_through_vllm(server, micro_env):
    settings = server["served"]
    env = {**os.environ, "FOURPATHS_ENGINE": "openai", "FOURPATHS_ENDPOINT_URL": settings.endpoint_url,
           "FOURPATHS_ENDPOINT_ADAPTER": "taught", "FOURPATHS_BASE_MODEL": settings.base_model,
           "FOURPATHS_LORA_ADAPTER": settings.lora_adapter, "FOURPATHS_RAG_ANSWER": "generated",
           "FOURPATHS_PROMPT_CONSTRAINTS": "false", "FOURPATHS_MAX_NEW_TOKENS": "24"}
    result = subprocess.run([sys.executable, "-m", "fourpaths.cli", "ask", QUESTIONS[0], "--json"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)["answers"]
    local = ask(QUESTIONS[0], server["local"], SERVED)
    for path_id in SERVED:
        assert answers[path_id]["model"].endswith(settings.endpoint_url), answers[path_id]
        assert answers[path_id]["token_ids"] == local[path_id].token_ids, path_id


def test_the_compare_page_answers_through_vllm(server, micro_env, monkeypatch):
    from conftest import ask as ask_in_page
    from conftest import start

    settings = server["served"]
    for name, value in {"ENGINE": "openai", "ENDPOINT_URL": settings.endpoint_url, "ENDPOINT_ADAPTER": "taught",
                        "BASE_MODEL": settings.base_model, "LORA_ADAPTER": settings.lora_adapter,
                        "RAG_ANSWER": "generated"}.items():
        monkeypatch.setenv(f"FOURPATHS_{name}", value)
    at = start(monkeypatch)
    captions = [str(caption.value) for caption in at.sidebar.caption]  # the sidebar, before a question reruns the page
    assert any(f"Prompt: endpoint {settings.endpoint_url} (base)" in caption for caption in captions), captions
    columns = path_columns(ask_in_page(at, QUESTIONS[0]))
    for path_id in (*SERVED, "scratch"):
        assert not columns[path_id].error, [e.value for e in columns[path_id].error]
