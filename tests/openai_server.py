"""A small real OpenAI-compatible server for the tests: HTTP on 127.0.0.1, /v1/models and /v1/chat/completions
(whole or streamed as server-sent events, with usage), serving a model folder and PEFT adapters by name through
plain transformers `generate`. It stands in for vLLM where vLLM's minutes of start-up do not fit the default
suite; tests/test_served.py runs the real vLLM."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


class TinyOpenAIServer:
    """serve(base folder, {name: adapter folder}) on a free port; `url` is its /v1 base URL. `api_key`, when set,
    is required as a bearer token; `delay_s` holds every answer back (for timeouts)."""

    def __init__(self, base: str, adapters: dict[str, str], base_name: str = "base", api_key: str = "",
                 delay_s: float = 0.0) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
        self.names = [base_name, *adapters]
        self.base_name = base_name
        if adapters:
            from peft import PeftModel

            first, *rest = adapters.items()
            self.model = PeftModel.from_pretrained(self.model, first[1], adapter_name=first[0]).eval()
            for name, folder in rest:
                self.model.load_adapter(folder, adapter_name=name)
        self.api_key, self.delay_s = api_key, delay_s
        self.lock = threading.Lock()  # one generate at a time on the shared weights
        server = self
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"server_app": server}))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @torch.inference_mode()
    def generate(self, model: str, messages: list[dict], max_tokens: int) -> list[int]:
        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([self.tokenizer(prompt, add_special_tokens=False)["input_ids"]])
        kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "max_new_tokens": max_tokens,
                  "do_sample": False, "pad_token_id": self.tokenizer.pad_token_id or 0}
        with self.lock:
            if hasattr(self.model, "set_adapter") and model != self.base_name:
                self.model.set_adapter(model)
                output = self.model.generate(**kwargs)
            elif hasattr(self.model, "disable_adapter"):
                with self.model.disable_adapter():
                    output = self.model.generate(**kwargs)
            else:
                output = self.model.generate(**kwargs)
        return output[0, ids.shape[1]:].tolist()


class _Handler(BaseHTTPRequestHandler):
    server_app: TinyOpenAIServer

    def log_message(self, *_args) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        app = self.server_app
        if app.api_key and self.headers.get("Authorization") != f"Bearer {app.api_key}":
            self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/models":
            return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        self._send(200, {"object": "list", "data": [{"id": name, "object": "model", "created": 0,
                                                     "owned_by": "fourpaths-tests"} for name in self.server_app.names]})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        app = self.server_app
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if request.get("model") not in app.names:
            return self._send(404, {"error": {"message": f"The model `{request.get('model')}` does not exist.",
                                              "type": "NotFoundError", "code": 404}})
        time.sleep(app.delay_s)
        ids = app.generate(request["model"], request["messages"], int(request.get("max_tokens") or 16))
        ends = {app.tokenizer.eos_token_id}
        kept = ids[:next((i for i, token in enumerate(ids) if token in ends), len(ids))]
        text = app.tokenizer.decode(kept, skip_special_tokens=True)
        usage = {"prompt_tokens": 0, "completion_tokens": len(ids), "total_tokens": len(ids)}
        head = {"id": "chatcmpl-test", "created": int(time.time()), "model": request["model"]}
        if not request.get("stream"):
            return self._send(200, {**head, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        shown = ""
        for end in range(1, len(kept) + 1):  # one event per token, as servers stream
            now = app.tokenizer.decode(kept[:end], skip_special_tokens=True)
            if now.endswith("\ufffd"):
                continue
            self._event({**head, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"content": now[len(shown):]}, "finish_reason": None}]})
            shown = now
        self._event({**head, "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            self._event({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, body: dict) -> None:
        self.wfile.write(f"data: {json.dumps(body)}\n\n".encode())
        self.wfile.flush()
