"""Loading language models and adapters once per process, safely shared by every caller.

Weights load from safetensors only. Every failure a user can cause (missing folder, corrupt weights, an
adapter trained for another base) becomes a FourpathsError with one line that says what and where.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from fourpaths.config import is_local
from fourpaths.errors import FourpathsError

LORA_ADAPTER_NAME = "lora"


@dataclass
class LoadedModel:
    """A model, its tokenizer, and a lock: one generation at a time, since adapter switching is global."""

    location: str
    model: object
    tokenizer: object
    parameters: int
    adapter_location: str | None = None
    adapter_error: str | None = None
    adapter_facts: dict[str, object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: dict[tuple, LoadedModel] = {}
_cache_lock = threading.Lock()
_cache_generation = 0  # counts the changes to _cache: a kept lane worker holds the models of one generation


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _check_folder(location: str, what: str, weight_file: str) -> None:
    if not is_local(location):
        return  # a hub id: from_pretrained reports its own errors
    folder = Path(location)
    if not folder.is_dir():
        raise FourpathsError(f"{what} folder not found: {location}")
    if not (folder / weight_file).exists() and not list(folder.glob("*.safetensors")):
        raise FourpathsError(f"{what} at {location} has no safetensors weights ({weight_file} missing)")


def load_causal_lm(location: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _check_folder(location, "model", "model.safetensors")
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        model = AutoModelForCausalLM.from_pretrained(location, use_safetensors=True, dtype=torch.float32)
    except Exception as error:  # noqa: BLE001 - every loader failure becomes one readable line
        raise FourpathsError(f"cannot load model from {location}: {_one_line(error)}") from None
    model.eval()
    return model, tokenizer


def check_adapter_fits(model, adapter_location: str) -> None:
    """Compare every LoRA matrix with the layer it would attach to, before touching the model."""
    folder = Path(adapter_location)
    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        raise FourpathsError(f"adapter at {adapter_location} has no adapter_model.safetensors")
    modules = dict(model.named_modules())
    try:
        with safe_open(str(weights), framework="pt") as tensors:
            shapes = {key: tensors.get_slice(key).get_shape() for key in tensors.keys()}
    except Exception as error:  # noqa: BLE001
        raise FourpathsError(f"cannot read adapter weights {weights}: {_one_line(error)}") from None
    for key, shape in shapes.items():
        if ".base_layer." in key:  # a saved copy of a base layer (resized vocabulary): must match in full
            _check_full_copy(modules, key, shape, adapter_location)
            continue
        module_name = key.removeprefix("base_model.model.").rsplit(".lora_", 1)[0]
        layer = modules.get(module_name)
        if layer is None or not (hasattr(layer, "in_features") or hasattr(layer, "num_embeddings")):
            raise FourpathsError(f"adapter {adapter_location} does not fit base: it has no layer {module_name}")
        expected, actual = _lora_widths(layer, key, shape)
        if expected != actual:
            raise FourpathsError(f"adapter {adapter_location} does not fit base: {module_name} is {expected} wide "
                                 f"in the base but {actual} in the adapter")


def _check_full_copy(modules: dict, key: str, shape, adapter_location: str) -> None:
    module_name = key.removeprefix("base_model.model.").split(".base_layer.", 1)[0]
    layer = modules.get(module_name)
    if layer is None or list(layer.weight.shape) != list(shape):
        raise FourpathsError(f"adapter {adapter_location} does not fit base: its copy of {module_name} is "
                             f"{list(shape)}, the base's {list(layer.weight.shape) if layer is not None else 'missing'}")


def _lora_widths(layer, key: str, shape) -> tuple[int, int]:
    """(the layer's width, the adapter's width) on the side a LoRA matrix attaches to.

    Linear: A is (rank, in_features), B is (out_features, rank). Embedding: A is (rank, vocabulary),
    B is (embedding width, rank).
    """
    if hasattr(layer, "num_embeddings"):
        if ".lora_embedding_A" in key:
            return layer.num_embeddings, shape[1]
        return layer.embedding_dim, shape[0]
    if ".lora_A." in key:
        return layer.in_features, shape[1]
    return layer.out_features, shape[0]


def attach_adapter(model, adapter_location: str):
    from peft import PeftModel

    check_adapter_fits(model, adapter_location)
    try:
        return PeftModel.from_pretrained(model, adapter_location, adapter_name=LORA_ADAPTER_NAME)
    except Exception as error:  # noqa: BLE001
        raise FourpathsError(f"cannot load adapter from {adapter_location}: {_one_line(error)}") from None


def adapter_facts(peft_model) -> dict[str, object]:
    config = peft_model.peft_config[LORA_ADAPTER_NAME]
    trainable = sum(p.numel() for name, p in peft_model.named_parameters() if "lora_" in name)
    total = sum(p.numel() for name, p in peft_model.named_parameters() if "lora_" not in name)
    return {"rank": config.r, "alpha": config.lora_alpha, "target_modules": sorted(config.target_modules),
            "adapter_parameters": trainable, "trainable_share": trainable / (trainable + total)}


def load_base_with_adapter(base_location: str, adapter_location: str | None) -> LoadedModel:
    """The base once, with the LoRA adapter attached when it fits; a bad adapter leaves the base usable."""
    key = ("base", base_location, adapter_location)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        model, tokenizer = load_causal_lm(base_location)
        parameters = sum(p.numel() for p in model.parameters())
        loaded = LoadedModel(base_location, model, tokenizer, parameters)
        if adapter_location:
            try:
                loaded.model = attach_adapter(model, adapter_location)
                loaded.model.eval()
                loaded.adapter_location = adapter_location
                loaded.adapter_facts = adapter_facts(loaded.model)
            except FourpathsError as error:
                loaded.adapter_error = str(error)
        _cache[key] = loaded
        _count_a_change()
        return loaded


def load_plain(location: str) -> LoadedModel:
    key = ("plain", location)
    with _cache_lock:
        if key not in _cache:
            model, tokenizer = load_causal_lm(location)
            _cache[key] = LoadedModel(location, model, tokenizer, sum(p.numel() for p in model.parameters()))
            _count_a_change()
        return _cache[key]


def learnt_position_limit(config) -> int | None:
    """How many positions a model with learnt positions (BERT) has: past the last one it fails outright.

    None for rotary positions (Llama), which run past their trained length, only less well."""
    if config is None or any(hasattr(config, name) for name in ("rope_parameters", "rope_theta", "rope_scaling")):
        return None
    return getattr(config, "max_position_embeddings", None)


def read_training_summary(location: str) -> dict[str, object]:
    """The facts a recipe recorded beside its model (data, steps, loss), when it is a local folder."""
    path = Path(location) / "training_summary.json"
    if not path.exists():
        return {}
    summary = json.loads(path.read_text())
    summary.pop("losses", None)
    return summary


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _count_a_change()


def cache_generation() -> int:
    """Which set of loaded models this process holds: it changes whenever a model is loaded or dropped, so a
    process forked earlier (a kept decode lane) can tell that it no longer holds the same ones."""
    return _cache_generation


def _count_a_change() -> None:  # called with _cache_lock held
    global _cache_generation
    _cache_generation += 1
