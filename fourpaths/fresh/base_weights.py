"""One copy of the answer head's base weights per process, shared by every teaching job and every taught head.

Teaching used to load all-MiniLM-L6-v2 afresh for each job (and again for the word neighbours), and kept a merged
copy per taught session: 90 MB each, two sessions teaching took the server from 828 MB to 2.3 GB. The base is
frozen while a LoRA adapter trains and while it answers unmerged, so every model here is built around the same
tensors, assigned, not copied: the sentence embedder's own when it is the same model (it is loaded to search
anyway), else one copy read once from the base's safetensors.
"""

from __future__ import annotations

import threading
from pathlib import Path

_SHARED: dict[str, dict] = {}
_LOCK = threading.Lock()


def base_weights(base: str) -> dict:
    """The base model's tensors (BertModel names: embeddings..., encoder..., pooler...), frozen and shared."""
    from fourpaths.retrieval import embedder as embedders

    with _LOCK:
        if base not in _SHARED:
            loaded = embedders.loaded_embedder(base)
            transformer = getattr(loaded[0], "auto_model", None) if loaded is not None else None
            if transformer is not None:
                weights = {name: tensor.detach() for name, tensor in transformer.state_dict().items()}
            else:
                from safetensors.torch import load_file

                weights = load_file(str(Path(base) / "model.safetensors"))
            for tensor in weights.values():
                tensor.requires_grad_(False)
            _SHARED[base] = weights
        return _SHARED[base]


def classifier_on_base(base: str, labels: int):
    """A sequence classifier of `labels` classes whose encoder is the shared base: only the classifier (and
    whatever LoRA adds later) is this model's own."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(base, num_labels=labels)
    model = AutoModelForSequenceClassification.from_config(config)  # its random encoder is replaced at once
    prefix = model.base_model_prefix + "."  # a base saved with its head ("bert.embeddings...") or without
    encoder = getattr(model, model.base_model_prefix)
    own = encoder.state_dict()
    shared = {name.removeprefix(prefix): tensor for name, tensor in base_weights(base).items()
              if name.removeprefix(prefix) in own}
    missing = sorted(set(own) - set(shared) - {name for name, _ in encoder.named_buffers()})
    if missing:
        raise ValueError(f"the base's weights lack {', '.join(missing[:3])}")
    encoder.load_state_dict(shared, strict=False, assign=True)
    return model


def word_table(base: str):
    """The base's input word-embedding table (shared), for the rewordings' word neighbours."""
    weights = base_weights(base)
    return next(tensor for name, tensor in weights.items() if name.endswith("embeddings.word_embeddings.weight"))
