"""Generation on transformers' own API: any causal or encoder-decoder model (with or without a PEFT adapter),
loaded once per process, answering through `generate` with a streamer that times every token.

Weights load from safetensors only. Every failure a user can cause (missing folder, corrupt weights, no chat
template, an adapter trained for another base) becomes a FourpathsError of one line naming the model.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors import safe_open
from transformers.generation import BaseStreamer
from transformers.utils import logging as transformers_logging

from fourpaths.config import is_local
from fourpaths.errors import FourpathsError, QuestionTooLong, one_line

transformers_logging.disable_progress_bar()  # a bar per model load would bury the CLI's one-line messages

ADAPTER_NAME = "lora"
NO_ADAPTER = "__base__"  # PEFT's name for "this row without an adapter" in generate(adapter_names=...)


@dataclass
class Generator:
    """A loaded model and its tokenizer. The lock serialises generate() calls on these weights: PEFT's per-call
    adapter choice works through hooks on shared layers, so two calls at once on one model would mix."""

    location: str
    model: object
    tokenizer: object
    parameters: int
    encoder_decoder: bool
    adapter_location: str | None = None
    adapter_error: str | None = None
    adapter_facts: dict[str, object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: dict[tuple, Generator] = {}
_cache_lock = threading.Lock()
# Held by every model load in the process (generators, reader, answer head, embedder): from_pretrained patches
# module globals while it runs (torch.nn.init, its init flags), so two loads on two threads can leave a model
# with weights never initialised, a tied lm_head of NaN among them.
LOADING = threading.RLock()
# Held by every sampled generation: they all draw from torch's one default generator, so two at once on two
# threads would take each other's draws and a seed would no longer give the same answers.
SAMPLING = threading.Lock()


def check_weights(location: str, what: str) -> None:
    """A local folder must exist and hold whole safetensors weights; a hub id is left to from_pretrained."""
    if not is_local(location):
        return
    folder = Path(location)
    if not folder.is_dir():
        raise FourpathsError(f"{what} folder not found: {location}")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FourpathsError(f"{what} at {location} has no safetensors weights")
    for path in files:
        check_safetensors(path, what)


def check_safetensors(path: Path, what: str) -> None:
    """Read a weights file's header, which safetensors checks against the file's size, then its values: a
    truncated, emptied or overwritten file, or one with NaN or infinite values (what random bytes in a
    well-formed file become), is refused here, naming it, rather than deep inside from_pretrained or as nonsense.
    A file that cannot be opened at all says why (permission, a link to nothing, a folder), not "damaged"."""
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        why = {PermissionError: "permission denied: let this user read it",
               FileNotFoundError: "it is a link to a file that is not there",
               IsADirectoryError: "it is a folder, not a file"}.get(type(error), error.strerror or one_line(error))
        raise FourpathsError(f"cannot read {what} in {path.parent}: {path.name}: {why}") from None
    try:
        with safe_open(str(path), framework="pt") as tensors:
            tensors.keys()
        damaged = first_non_finite(path)
    except Exception as error:  # noqa: BLE001 - safetensors raises its own error types and OSError
        raise FourpathsError(f"cannot load {what} in {path.parent}: {path.name} is truncated or damaged "
                             f"({one_line(error)}); restore the file or train the model again") from None
    if damaged:
        raise FourpathsError(f"{what} at {path.parent} has damaged weights: {damaged} holds NaN or infinite "
                             "values; restore the weights file or train the model again")


# A float is NaN or infinite when every bit of its exponent is set.
_EXPONENT_BITS = {"F64": ("<u8", 0x7FF0000000000000), "F32": ("<u4", 0x7F800000), "F16": ("<u2", 0x7C00),
                  "BF16": ("<u2", 0x7F80)}
_READ_BYTES = 1 << 22


def first_non_finite(path: Path) -> str | None:
    """The first tensor of a safetensors file holding NaN or infinity, read in pieces with ordinary reads: a
    check through the loaded model or a mapping of the file would leave every page of the weights resident."""
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(length))
        for name, entry in header.items():
            if name == "__metadata__" or entry.get("dtype") not in _EXPONENT_BITS:
                continue
            kind, exponent = _EXPONENT_BITS[entry["dtype"]]
            begin, end = entry["data_offsets"]
            handle.seek(8 + length + begin)  # offsets count from the end of the header
            step = _READ_BYTES - _READ_BYTES % np.dtype(kind).itemsize
            for start in range(begin, end, step):
                values = np.frombuffer(handle.read(min(step, end - start)), dtype=kind)
                if np.any((values & exponent) == exponent):
                    return name
    return None


def check_vocabulary(tokenizer, model, location: str, what: str) -> None:
    """Every token id the tokenizer can produce must have a row in the model's embedding tables, or the first
    question holding such a token fails inside torch with an IndexError."""
    highest = max([len(tokenizer) - 1, *tokenizer.get_vocab().values()])
    tables = [model.get_input_embeddings()]
    if getattr(model.config, "is_encoder_decoder", False):  # its decoder reads the answer's tokens too
        tables.append(model.get_decoder().get_input_embeddings())
    for table in tables:
        rows = getattr(table, "num_embeddings", None)
        if rows is not None and highest >= rows:
            raise FourpathsError(f"{what} at {location}: its tokenizer has token ids up to {highest} but the model's "
                                 f"embedding table has {rows} rows: the tokenizer belongs to another model")


def load_generator(location: str, adapter_location: str | None = None) -> Generator:
    """The model at `location` once per process, causal or encoder-decoder as its config says, with the LoRA
    adapter attached when one is given and fits; an adapter that does not fit leaves the base usable."""
    key = (location, adapter_location)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _load(location, adapter_location)
        return _cache[key]


def load_fresh(location: str, adapter_location: str | None = None) -> Generator:
    """A copy of its own, outside the cache: for a recipe that attaches layers to the model it trains."""
    return _load(location, adapter_location)


def _load(location: str, adapter_location: str | None) -> Generator:
    with LOADING:
        return _load_now(location, adapter_location)


def _load_now(location: str, adapter_location: str | None) -> Generator:
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    from fourpaths.answering.hub import loading_options

    check_weights(location, "model")
    options = loading_options(location)  # a hub id: from the cache, or after one short check that the hub answers
    try:
        config = AutoConfig.from_pretrained(location, **options)
        loader = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        if config.model_type == "encoder-decoder":
            from transformers import (
                EncoderDecoderModel as loader,  # its own class reads the composite config
            )
        tokenizer = AutoTokenizer.from_pretrained(location, **options)
        model = loader.from_pretrained(location, use_safetensors=True, dtype=torch.float32, **options)
    except Exception as error:  # noqa: BLE001 - every loader failure becomes one readable line
        raise FourpathsError(f"cannot load model from {location}: {one_line(error)}") from None
    check_vocabulary(tokenizer, model, location, "model")
    model.eval()
    loaded = Generator(location, model, tokenizer, sum(p.numel() for p in model.parameters()),
                       bool(config.is_encoder_decoder))
    if adapter_location:
        try:
            loaded.model = attach_adapter(model, adapter_location)
            loaded.model.eval()
            loaded.adapter_location = adapter_location
            loaded.adapter_facts = adapter_facts(loaded.model)
        except FourpathsError as error:
            loaded.adapter_error = str(error)
    return loaded


def use_threads(count: int) -> None:
    """The settings' torch threads (0: torch's default), applied before any torch work that they should govern."""
    if count > 0:
        torch.set_num_threads(count)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def attach_adapter(model, adapter_location: str):
    from peft import PeftModel

    check_adapter_fits(model, adapter_location)
    try:
        return PeftModel.from_pretrained(model, adapter_location, adapter_name=ADAPTER_NAME)
    except Exception as error:  # noqa: BLE001
        raise FourpathsError(f"cannot load adapter from {adapter_location}: {one_line(error)}") from None


def adapter_facts(peft_model) -> dict[str, object]:
    config = peft_model.peft_config[ADAPTER_NAME]
    trainable = sum(p.numel() for name, p in peft_model.named_parameters() if "lora_" in name)
    total = sum(p.numel() for name, p in peft_model.named_parameters() if "lora_" not in name)
    targets = config.target_modules
    targets = sorted(targets) if isinstance(targets, (set, list, tuple)) else targets  # a regex stays one string
    return {"rank": config.r, "alpha": config.lora_alpha, "target_modules": targets,
            "adapter_parameters": trainable, "trainable_share": trainable / (trainable + total)}


def check_adapter_fits(model, adapter_location: str) -> None:
    """Compare every LoRA matrix with the layer it would attach to, before touching the model, so an adapter
    for another base is refused with the layer that differs."""
    weights = Path(adapter_location) / "adapter_model.safetensors"
    if not weights.exists():
        raise FourpathsError(f"adapter at {adapter_location} has no adapter_model.safetensors")
    modules = dict(model.named_modules())
    check_safetensors(weights, "the adapter")
    # check_safetensors has read its values: damaged ones are refused before PEFT puts them into the base
    with safe_open(str(weights), framework="pt") as tensors:
        shapes = {key: tensors.get_slice(key).get_shape() for key in tensors.keys()}
    for key, shape in shapes.items():
        if ".lora_" not in key:
            continue  # saved copies of whole layers (modules_to_save): PEFT checks those itself
        module_name = key.removeprefix("base_model.model.").rsplit(".lora_", 1)[0]
        layer = modules.get(module_name)
        if layer is None or not (hasattr(layer, "in_features") or hasattr(layer, "num_embeddings")
                                 or hasattr(layer, "nf")):
            raise FourpathsError(f"adapter {adapter_location} does not fit the base: it has no layer {module_name}")
        expected, actual = _lora_widths(layer, key, shape)
        if expected != actual:
            raise FourpathsError(f"adapter {adapter_location} does not fit the base: {module_name} is {expected} "
                                 f"wide in the base but {actual} in the adapter")


def _lora_widths(layer, key: str, shape) -> tuple[int, int]:
    """(the layer's width, the adapter's) on the side a LoRA matrix attaches to. Linear and Conv1D: A is
    (rank, in), B is (out, rank). Embedding: A is (rank, vocabulary), B is (width, rank)."""
    if hasattr(layer, "num_embeddings"):
        return (layer.num_embeddings, shape[1]) if ".lora_embedding_A" in key else (layer.embedding_dim, shape[0])
    if hasattr(layer, "nf"):  # GPT-2's Conv1D: weight is (in, out)
        return (layer.weight.shape[0], shape[1]) if ".lora_A." in key else (layer.nf, shape[0])
    return (layer.in_features, shape[1]) if ".lora_A." in key else (layer.out_features, shape[0])


def adapter_task(adapter_location: str) -> str | None:
    """The PEFT task type an adapter folder was saved for (CAUSAL_LM, SEQ_2_SEQ_LM, SEQ_CLS, ...)."""
    path = Path(adapter_location) / "adapter_config.json"
    try:
        return json.loads(path.read_text()).get("task_type")
    except (OSError, json.JSONDecodeError) as error:
        raise FourpathsError(f"cannot read adapter config {path}: {one_line(error)}") from None


def position_limit(generator: Generator) -> int | None:
    """How many positions the model can read: learnt ones (BERT, GPT-2) fail outright past it, rotary ones
    (Llama, Qwen2) were built and trained for max_position_embeddings and read nonsense past it. None for
    relative positions (T5), which have no such length."""
    config = generator.model.config
    if generator.encoder_decoder:
        config = getattr(config, "encoder", config)
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) \
        if getattr(config, "model_type", "") not in ("t5", "mt5", "umt5") else None


def render(generator: Generator, messages: Sequence[dict[str, str]], max_new_tokens: int,
           check_length: bool = True) -> tuple[str, list[int]]:
    """The model's input for chat `messages`: through its chat template, or, for an encoder-decoder model
    without one, the messages' text in order (the form T5-style models are tuned on). A decoder-only model
    without a chat template is refused: it could not tell the question from its answer. An input longer than
    the model reads (with room for the answer) is refused with QuestionTooLong, unless check_length is False
    (a training recipe, which cuts its rows to its own length)."""
    from fourpaths.answering.prompts import control_tokens, without_control_tokens

    tokenizer = generator.tokenizer
    # A question or passage holding "<|system|>" or "</s>" must stay text, never open a turn or end the input.
    tokens = control_tokens(tokenizer)
    messages = [{**message, "content": without_control_tokens(message["content"], tokens)} for message in messages]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]  # too long: said below
    elif generator.encoder_decoder:
        text = "\n\n".join(message["content"] for message in messages)
        ids = tokenizer(text, verbose=False)["input_ids"]
    else:
        raise FourpathsError(f"model {generator.location} has no chat template, which a decoder-only model needs "
                             "to answer a question")
    limit = position_limit(generator)
    budget = len(ids) if generator.encoder_decoder else len(ids) + max_new_tokens
    if check_length and limit is not None and budget > limit:
        raise QuestionTooLong(f"the input is {len(ids):,} tokens and the answer may take {max_new_tokens}, but "
                              f"model {generator.location} reads at most {limit:,}: shorten the question or lower "
                              "max new tokens")
    return text, ids


class TimedStreamer(BaseStreamer):
    """generate()'s streamer: times each new token and hands on the text it adds.

    Text is decoded from all the answer's tokens each time, so a piece never splits a character or a word
    piece; a piece that would end in an incomplete character waits for the next token."""

    def __init__(self, tokenizer, on_text: Callable[[str], None] | None = None) -> None:
        self.tokenizer = tokenizer
        self.on_text = on_text
        self.ids: list[int] = []
        self.times: list[float] = []
        self.probabilities: list[float] = []  # the model's probability of each token written, once generate ends
        self._seen_input = False
        self._shown = ""

    def put(self, value) -> None:
        at = time.perf_counter()
        if not self._seen_input:  # the first call carries the prompt (or the decoder's start token)
            self._seen_input = True
            return
        for token in value.reshape(-1).tolist():
            self.ids.append(token)
            self.times.append(at)
        self._show(final=False)

    def end(self) -> None:
        self._show(final=True)

    @property
    def text(self) -> str:
        return self.tokenizer.decode(self.ids, skip_special_tokens=True).strip()

    def _show(self, final: bool) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not final and text.endswith("\ufffd"):
            return
        if self.on_text is not None and text.startswith(self._shown) and len(text) > len(self._shown):
            self.on_text(text[len(self._shown):])
        self._shown = text


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 48
    temperature: float = 0.0  # 0: greedy
    seed: int = 0


def generate_kwargs(generator: Generator, prompt_ids: list[int], decoding: Decoding, adapter: str | None,
                    logits_processor=None) -> dict:
    """The arguments for `generate` on one prompt: the same for the streamed answer and the benchmark's
    plain call, so the two differ only by the streamer."""
    tokenizer, config = generator.tokenizer, generator.model.generation_config
    ids = torch.tensor([prompt_ids])
    stops = end_ids(generator)
    pad = config.pad_token_id if config.pad_token_id is not None else tokenizer.pad_token_id
    kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "max_new_tokens": decoding.max_new_tokens,
              "eos_token_id": sorted(stops) or None, "pad_token_id": pad if pad is not None else min(stops, default=0),
              "do_sample": decoding.temperature > 0}
    if decoding.temperature > 0:
        kwargs.update(temperature=decoding.temperature, top_k=None, top_p=None)
    else:
        kwargs.update(temperature=None, top_k=None, top_p=None)  # greedy: no warnings about sampling settings
    if logits_processor:
        from transformers import LogitsProcessorList

        kwargs["logits_processor"] = LogitsProcessorList(logits_processor)
    if generator.adapter_location:  # a PEFT model: choose the adapter for this call (public per-call API)
        kwargs["adapter_names"] = [adapter or NO_ADAPTER]
    return kwargs


def end_ids(generator: Generator) -> list[int]:
    """The ids that end an answer: the generation config's and the tokenizer's end-of-sequence tokens."""
    config, tokenizer = generator.model.generation_config, generator.tokenizer
    return sorted({token for token in _as_list(config.eos_token_id) + _as_list(tokenizer.eos_token_id)
                   if token is not None})


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


@torch.inference_mode()
def generate(generator: Generator, prompt_ids: list[int], decoding: Decoding, adapter: str | None = None,
             on_text: Callable[[str], None] | None = None, logits_processor=None) -> TimedStreamer:
    """One answer through `generate`, streamed: returns the streamer, which holds the tokens, their times, the
    text and the probability the model gave each token (from its raw logits: before any logits processor)."""
    streamer = TimedStreamer(generator.tokenizer, on_text)
    kwargs = generate_kwargs(generator, prompt_ids, decoding, adapter, logits_processor)
    with generator.lock, (SAMPLING if decoding.temperature > 0 else contextlib.nullcontext()):
        if decoding.temperature > 0:
            torch.manual_seed(decoding.seed)
        output = generator.model.generate(**kwargs, streamer=streamer, output_logits=True,
                                          return_dict_in_generate=True)
    if output.logits:
        scores = generator.model.compute_transition_scores(output.sequences, output.logits, normalize_logits=True)
        streamer.probabilities = [round(float(p), 4) for p in scores[0].exp()]
    return streamer
