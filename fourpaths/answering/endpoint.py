"""The OpenAI-compatible engine: a path's answer written by a served model (vLLM, llama.cpp's server, Ollama, TGI,
OpenAI) through the `openai` client, streamed and timed token by token like the local engine's answers.

The endpoint gets chat messages and applies its own chat template. Every failure (nothing listening, a timeout,
an unknown model name, a refused request) becomes one FourpathsError line naming the endpoint, shown in the
column that asked. The key comes from FOURPATHS_API_KEY (or OPENAI_API_KEY) in the environment, which Streamlit
fills from its secrets; never from a settings file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from fourpaths.config import Settings, engine_of, is_local, resolve_location
from fourpaths.errors import FourpathsError, one_line

API_KEY_VARIABLES = ("FOURPATHS_API_KEY", "OPENAI_API_KEY")
CONNECT_TIMEOUT_S = 5.0  # a host that does not answer fails the column in seconds, whatever endpoint_timeout says
# Strings chat templates read as control tokens ("<|user|>", "<s>", "</s>", "[INST]"): the endpoint's tokenizer is
# not known here, so these forms are split by a space in every message, as the local engine does with its own.
_CONTROL_LIKE = re.compile(r"<(?=\|)|<(?=/?s>)|\[(?=/?INST\])")


@dataclass
class Endpoint:
    """A reachable endpoint and the model names it serves (asked once per process)."""

    url: str
    client: object
    stream: bool
    served: dict[str, str]  # served name -> owner ("vllm" for vLLM)
    token_ids: bool  # vLLM returns each answer's token ids when asked (return_token_ids)

    def check_model(self, model: str, what: str) -> None:
        if model not in self.served:
            raise FourpathsError(f"endpoint {self.url} serves no model named {model!r} ({what}); it serves: "
                                 f"{', '.join(sorted(self.served)) or 'nothing'}")


@dataclass
class Written:
    """An answer the endpoint wrote: its text, the token ids when the server gives them, each token's time."""

    text: str = ""
    ids: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    count: int = 0  # tokens generated (the server's usage figure when it gives no ids)


_endpoints: dict[tuple, Endpoint] = {}
_lock = threading.Lock()


def engine_labels(settings: Settings) -> dict[str, str]:
    """What writes each path's answers, by the path's short title, as the sidebar shows it (no model loaded)."""
    from fourpaths.answering.paths import SHORT_TITLES

    s = settings
    served = {"prompt": s.endpoint_model, "lora": s.endpoint_adapter, "rag": s.endpoint_model}
    labels = {path_id: (f"endpoint {s.endpoint_url} ({served[path_id]})" if engine_of(s, path_id) == "openai"
                        else "local transformers") for path_id in SHORT_TITLES}
    if _is_answer_head(resolve_location(s.lora_adapter)):
        labels["lora"] = "local answer head"
    reads = s.rag_answer == "auto" and engine_of(s, "rag") == "local" and is_local(resolve_location(s.base_model))
    if s.rag_answer == "reader" or reads:
        labels["rag"] = "local extractive reader"
    return {SHORT_TITLES[path_id]: label for path_id, label in labels.items()}


def _is_answer_head(location: str) -> bool:
    try:
        return bool(location) and json.loads((Path(location) / "adapter_config.json").read_text()).get(
            "task_type") == "SEQ_CLS"
    except (OSError, ValueError):
        return False


def api_key() -> str:
    return next((os.environ[name] for name in API_KEY_VARIABLES if os.environ.get(name)), "")


def connect(settings: Settings) -> Endpoint:
    """The endpoint of these settings, its served models listed once per process (a failure is not kept: the
    next question tries again, so a server started after the app is found)."""
    key = (settings.endpoint_url, api_key(), settings.endpoint_timeout, settings.endpoint_stream)
    with _lock:
        if key in _endpoints:
            return _endpoints[key]
    from openai import OpenAI, Timeout

    # No retries: a failure is shown at once, in one line, rather than after the client's backoff.
    client = OpenAI(base_url=settings.endpoint_url, api_key=api_key() or "none", max_retries=0,
                    timeout=Timeout(settings.endpoint_timeout, connect=CONNECT_TIMEOUT_S))
    try:
        models = client.models.list().data
    except Exception as error:  # noqa: BLE001 - every client failure becomes one readable line
        raise FourpathsError(describe_failure(error, settings.endpoint_url)) from None
    served = {model.id: str(getattr(model, "owned_by", "") or "") for model in models}
    endpoint = Endpoint(settings.endpoint_url, client, settings.endpoint_stream, served,
                        token_ids=any(owner == "vllm" for owner in served.values()))
    with _lock:
        _endpoints[key] = endpoint
    return endpoint


def forget() -> None:
    """Drop the remembered endpoints (a test that restarts a server)."""
    with _lock:
        _endpoints.clear()


def describe_failure(error: BaseException, url: str) -> str:
    import openai

    if isinstance(error, openai.APITimeoutError):
        return f"endpoint {url} did not answer in time (endpoint_timeout; connecting: {CONNECT_TIMEOUT_S:g} s)"
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error
        return f"endpoint {url} cannot be reached: {one_line(cause)} (is the server running? `fourpaths serve`)"
    if isinstance(error, openai.AuthenticationError):
        return f"endpoint {url} refused the key (401): set FOURPATHS_API_KEY in the environment or the app's secrets"
    if isinstance(error, openai.APIStatusError):
        message = error.message if isinstance(error.message, str) else str(error.body)
        return f"endpoint {url} refused the request ({error.status_code}): {one_line(Exception(message))}"
    return f"endpoint {url} failed: {type(error).__name__}: {one_line(error)}"


def inert(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with control-token look-alikes split, so a question or passage cannot open a turn."""
    return [{**message, "content": _CONTROL_LIKE.sub(lambda m: m.group(0) + " ", message["content"])}
            for message in messages]


def transcript(messages: Sequence[dict[str, str]]) -> str:
    """The messages as the page shows a served path's input: the endpoint applies its own chat template."""
    return "\n\n".join(f"[{message['role']}]\n{message['content']}" for message in messages)


def generate(endpoint: Endpoint, model: str, messages: Sequence[dict[str, str]], max_new_tokens: int,
             temperature: float, seed: int, on_text: Callable[[str], None] | None = None) -> Written:
    """One answer from the endpoint, streamed (each piece handed to on_text and timed as it arrives) unless the
    settings turned streaming off; greedy at temperature 0, seeded when sampled."""
    request: dict = {"model": model, "messages": list(messages), "max_tokens": max_new_tokens,
                     "temperature": temperature}
    if temperature > 0:
        request["seed"] = seed
    if endpoint.token_ids:
        request["extra_body"] = {"return_token_ids": True}
    written = Written()
    try:
        if endpoint.stream:
            _stream(endpoint, request, written, on_text)
        else:
            _whole(endpoint, request, written, on_text)
    except FourpathsError:
        raise
    except Exception as error:  # noqa: BLE001 - one readable line in the column
        raise FourpathsError(describe_failure(error, endpoint.url)) from None
    written.text = written.text.strip()
    written.count = written.count or len(written.ids) or len(written.times)
    return written


def _stream(endpoint: Endpoint, request: dict, written: Written, on_text) -> None:
    chunks = endpoint.client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
    try:
        for chunk in chunks:
            now = time.perf_counter()
            if getattr(chunk, "usage", None) is not None:
                written.count = chunk.usage.completion_tokens or 0
            for choice in chunk.choices or ():
                ids = (choice.model_extra or {}).get("token_ids") or []
                piece = getattr(choice.delta, "content", None) or ""
                written.ids.extend(ids)
                written.times.extend([now] * (len(ids) or (1 if piece else 0)))
                if piece:
                    written.text += piece
                    if on_text is not None:
                        on_text(piece)
    finally:
        chunks.close()  # an abandoned question (on_text raised) closes its connection: the server stops writing


def _whole(endpoint: Endpoint, request: dict, written: Written, on_text) -> None:
    response = endpoint.client.chat.completions.create(**request)
    now = time.perf_counter()
    choice = response.choices[0]
    written.text = choice.message.content or ""
    written.ids = list((choice.model_extra or {}).get("token_ids") or [])
    written.count = response.usage.completion_tokens if response.usage else len(written.ids)
    written.times = [now] * max(written.count, 1)
    if on_text is not None and written.text:
        on_text(written.text)
