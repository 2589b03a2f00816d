"""Hub ids with no hub: a model already in the Hugging Face cache loads from it without the network; one that is
not fails its columns in one line, fast, while the other paths answer (RAG on its reader). Each case runs
`fourpaths ask` in a process of its own, with HF_HOME in a temporary folder and the hub endpoint pointed at a
port where nothing listens."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

QUESTION = "How many days of paid annual leave does an employee receive?"
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"


def _place_in_hub_cache(folder, hf_home, repo_id: str) -> None:
    """The model folder laid out as huggingface_hub caches a download: refs/main naming a snapshot."""
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / SNAPSHOT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SNAPSHOT)


def _ask_offline(micro_env, tmp_path, base_model: str, exit_status: int = 0) -> tuple[dict, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HF_", "HUGGINGFACE"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=f"http://127.0.0.1:{port}", FOURPATHS_BASE_MODEL=base_model)
    result = subprocess.run([sys.executable, "-m", "fourpaths.cli", "ask", QUESTION, "--json"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == exit_status, result.stderr  # 1: a path failed
    return json.loads(result.stdout)["answers"], result.stderr


def test_a_hub_id_in_the_cache_loads_without_the_hub(micro_env, micro_models, tmp_path):
    _place_in_hub_cache(micro_models["base"], tmp_path / "hf", "fourpaths-tests/micro-base")
    answers, _ = _ask_offline(micro_env, tmp_path, "fourpaths-tests/micro-base")
    assert answers["prompt"].get("error") is None, answers["prompt"]
    assert answers["prompt"]["model"] == "fourpaths-tests/micro-base"
    assert answers["rag"]["mode"] == "generated"  # auto: a hub base that loads writes the RAG answer


def test_a_hub_id_not_in_the_cache_fails_its_columns_in_one_line(micro_env, tmp_path):
    (tmp_path / "hf").mkdir()
    answers, _ = _ask_offline(micro_env, tmp_path, "fourpaths-tests/not-downloaded", exit_status=1)
    message = answers["prompt"]["error"]
    assert "\n" not in message and "hub model fourpaths-tests/not-downloaded is not in this machine's Hugging Face " \
        "cache" in message and "the hub cannot be reached" in message, message
    assert answers["rag"].get("error") is None and answers["rag"]["mode"] == "extractive reader"
    assert answers["lora"].get("error") is None and answers["scratch"].get("error") is None
