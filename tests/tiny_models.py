"""Tiny random models of the architectures users point fourpaths at, each with a tokenizer built here: made in
a second, saved as Hugging Face folders (safetensors), loaded through the same from_pretrained calls as any
hub model."""

from __future__ import annotations

from pathlib import Path

import torch

from fourpaths.config import PROJECT_ROOT

ARCHITECTURES = ("llama", "qwen2", "gpt2", "t5", "bert2bert")


def _corpus_texts() -> list[str]:
    folder = PROJECT_ROOT / "corpus" / "docs"
    return [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.md"))[:6]]


def bpe_tokenizer(chat_template: bool = True):
    """A byte-level BPE tokenizer trained on a few corpus documents, with the project's chat template."""
    from fourpaths.training.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(_corpus_texts(), vocab_size=400)
    if not chat_template:
        tokenizer.chat_template = None
    return tokenizer


def build(architecture: str, folder: Path) -> Path:
    """Write a tiny random `architecture` model and its tokenizer to `folder`."""
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
        T5Config,
        T5ForConditionalGeneration,
    )

    torch.manual_seed(0)
    if architecture == "bert2bert":
        return _bert2bert(folder)
    tokenizer = bpe_tokenizer(chat_template=architecture != "t5")
    vocab, pad, eos = len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id
    small = {"vocab_size": vocab, "pad_token_id": pad, "eos_token_id": eos}
    if architecture == "llama":
        model = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=2, num_key_value_heads=1, **small))
    elif architecture == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=2, num_key_value_heads=1, **small))
    elif architecture == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=1024, bos_token_id=eos, **small))
    elif architecture == "t5":
        model = T5ForConditionalGeneration(T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2,
                                                    decoder_start_token_id=pad, **small))
    else:
        raise ValueError(f"unknown architecture {architecture}")
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = pad, eos
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _bert2bert(folder: Path) -> Path:
    """BERT2BERT as users build it from a BERT checkpoint: here a tiny random BERT with the all-MiniLM-L6-v2
    WordPiece tokenizer, [CLS] starting and [SEP] ending the answer."""
    from transformers import (
        AutoTokenizer,
        BertConfig,
        EncoderDecoderConfig,
        EncoderDecoderModel,
    )

    from fourpaths.retrieval.embedder import default_embedder_location

    tokenizer = AutoTokenizer.from_pretrained(default_embedder_location())
    shape = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=512)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        BertConfig(**shape), BertConfig(**shape, is_decoder=True, add_cross_attention=True))
    model = EncoderDecoderModel(config=config)
    for settings in (model.config, model.generation_config):
        settings.decoder_start_token_id = tokenizer.cls_token_id
        settings.eos_token_id = tokenizer.sep_token_id
        settings.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
