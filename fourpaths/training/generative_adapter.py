"""Recipe: `fourpaths train lora --generative`, a PEFT LoRA adapter that teaches a generative base the team's
documents and questions closed-book.

The base is any model the engine serves: causal (Llama, Qwen2, GPT-2, ...) or encoder-decoder (T5, a BERT2BERT
EncoderDecoderModel). The adapter is saved for PEFT with the task type that says how to serve it: CAUSAL_LM,
SEQ_2_SEQ_LM, or none for an EncoderDecoderModel, which PEFT has no task type for.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers.pytorch_utils import Conv1D

from fourpaths.answering import engine
from fourpaths.config import is_local
from fourpaths.errors import FourpathsError
from fourpaths.training.encoding import generator_for
from fourpaths.training.loop import LoopSettings
from fourpaths.training.model_card import (
    generation_run_facts,
    recipe_command,
    write_card,
)
from fourpaths.training.team_data import train_on_team_data, write_summary

RECIPE = "lora --generative"
# Short reference answers, each question six times an epoch beside the docs' statements once.
QUESTION_REPEATS = 6
LINEAR_TYPES = (torch.nn.Linear, Conv1D)  # Conv1D: GPT-2's linear layers
IN_A_BLOCK = re.compile(r"\.\d+\.")  # a module inside a repeated block: layers.3., h.0., block.1.


@dataclass(frozen=True)
class LoraShape:
    rank: int
    alpha: int
    dropout: float = 0.0


RECIPE_DEFAULTS = {"base": "models/base", "corpus": "corpus", "output": "models/lora-generative",
                   "run_dir": "runs/lora-generative", "preset": "default", "seed": 0}

PRESETS = {
    "micro": (LoraShape(4, 8), LoopSettings(steps=4, batch_size=2, seq_len=256, learning_rate=3e-3,
                                            warmup_steps=1, checkpoint_every=2)),
    # 900 steps: with reworded questions (question_variants), 600 left recall at 72% on models/base.
    "default": (LoraShape(32, 64), LoopSettings(steps=900, batch_size=8, seq_len=256, learning_rate=3e-3,
                                                warmup_steps=20, checkpoint_every=50, weight_decay=0.0)),
}


def target_modules_for(model) -> list[str] | str:
    """The layers LoRA adapts, found from the model's own modules: every linear layer inside its repeated
    blocks (the attention and MLP projections, whatever the architecture calls them) and, for a decoder-only
    model, the token embedding and the output layer as well.

    Why the embedding and output layer: measured on models/base, 200 steps on the train questions, the loss with
    the block projections alone stalled at 2.28 (recall 2%); with embed_tokens and lm_head it fell to 0.05
    (recall 99%). Memorising facts about new names needs token-specific directions.

    For an EncoderDecoderModel the names go to PEFT as one regex over the blocks of both halves: their leaf
    names (dense, query) also occur outside the blocks (the pooler, the output head's transform)."""
    linear = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                     if isinstance(module, LINEAR_TYPES) and IN_A_BLOCK.search(name)})
    if not linear:
        raise FourpathsError(f"no linear layers in repeated blocks found in a {model.config.model_type} model, so "
                             "there is nothing for LoRA to adapt")
    if model.config.model_type == "encoder-decoder":
        return rf".*\.\d+\..*\.({'|'.join(linear)})"
    if model.config.is_encoder_decoder:
        return linear
    names = {module: name for name, module in model.named_modules()}
    ends = [model.get_input_embeddings(), model.get_output_embeddings()]
    return linear + [names[module].rsplit(".", 1)[-1] for module in ends if module is not None]


def task_type_for(model) -> str | None:
    if model.config.model_type == "encoder-decoder":
        return None  # PEFT's seq2seq wrapper expects T5-style models; the plain PeftModel serves this one
    return "SEQ_2_SEQ_LM" if model.config.is_encoder_decoder else "CAUSAL_LM"


def train_lora(base_location: str, corpus_root: Path, output: Path, run_dir: Path, preset: str = "default",
               seed: int = 0, steps: int | None = None, recall_limit: int | None = None, command: str = "",
               base_name: str | None = None) -> dict:
    """base_location: a folder or hub id the engine can load. base_name: how the adapter names its base (as the
    user gave it: a relative folder or hub id); default base_location."""
    shape, settings = PRESETS[preset]
    base_name = base_name or base_location
    command = command or recipe_command(RECIPE, {"base": base_name, "corpus": corpus_root, "output": output,
                                                 "run_dir": run_dir, "preset": preset, "seed": seed,
                                                 "steps": steps}, RECIPE_DEFAULTS)
    if steps is not None:
        settings = LoopSettings(**{**asdict(settings), "steps": steps})
    # A fresh copy, not the engine's process-wide cached one: LoRA layers are injected into it in place.
    loaded = engine.load_fresh(base_location, None)
    targets = target_modules_for(loaded.model)
    task_type = task_type_for(loaded.model)
    config = LoraConfig(r=shape.rank, lora_alpha=shape.alpha, lora_dropout=shape.dropout,
                        target_modules=targets, task_type=task_type)
    peft_model = get_peft_model(loaded.model, config)
    generator = generator_for(peft_model, loaded.tokenizer, base_location)
    run = train_on_team_data(generator, corpus_root, settings, run_dir, seed, recall_limit, "lora",
                             QUESTION_REPEATS, short_answers=True, variant=_question_variant(corpus_root))
    peft_model.peft_config["default"].base_model_name_or_path = base_name
    output.mkdir(parents=True, exist_ok=True)
    # The embedding and output layers stay frozen; only their LoRA matrices belong in the adapter, not a
    # second copy of the base's vocabulary tables (PEFT saves those by default when they are targeted).
    peft_model.save_pretrained(output, save_embedding_layers=False)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    summary = {"base": base_name, "task_type": task_type, "rank": shape.rank, "alpha": shape.alpha,
               "target_modules": targets, "trainable_parameters": trainable,
               "trainable_share": round(trainable / total, 4), **run}
    write_summary(output, summary)
    _write_card(output, settings, summary, command, hub_base=not is_local(base_location))
    return summary


def _question_variant(corpus_root: Path):
    """Rewording for the train questions, with word neighbours from the shipped embedder (question_variants)."""
    from functools import partial

    from fourpaths.retrieval.corpus import load_questions
    from fourpaths.retrieval.embedder import default_embedder_location
    from fourpaths.training.question_variants import (
        question_variant,
        variable_words,
        word_neighbours,
    )

    words = variable_words(item.question for item in load_questions(corpus_root, "train"))
    return partial(question_variant, neighbours=word_neighbours(words, default_embedder_location()))


def _write_card(output: Path, settings: LoopSettings, summary: dict, command: str, hub_base: bool) -> None:
    targets = summary["target_modules"]
    data = (f"{summary['statements']} statement chunks of corpus/docs and " if summary["statements"] else "")
    facts = {
        "Base": f"{summary['base']} (PEFT task type {summary['task_type'] or 'none: EncoderDecoderModel'})",
        "LoRA": f"rank {summary['rank']}, alpha {summary['alpha']}, on "
                f"{targets if isinstance(targets, str) else ', '.join(targets)}",
        "Trainable parameters": f"{summary['trainable_parameters']:,} ({summary['trainable_share']:.1%} of the "
                                "adapted model)",
        "Training data": f"{data}{summary['questions']} questions of corpus/qa/train.jsonl (each "
                         f"{summary['question_repeats']} times per epoch, answered with the short reference answer), "
                         f"{summary['tokens_trained']:,} tokens in all; never corpus/updates or the evaluation sets. "
                         f"{summary['reworded_share']:.0%} of the questions' appearances are reworded: words dropped, "
                         "swapped or replaced by their nearest neighbours in all-MiniLM-L6-v2's word-embedding table "
                         "(fourpaths/training/question_variants.py)",
        **generation_run_facts(summary, settings),
    }
    seq2seq = summary["task_type"] != "CAUSAL_LM"
    metadata = {"license": "apache-2.0", "base_model": summary["base"] if hub_base else None, "library_name": "peft",
                "pipeline_tag": "text2text-generation" if seq2seq else "text-generation",
                "tags": ["lora", "peft", "fourpaths"]}
    write_card(output, "fourpaths generative LoRA adapter",
               "A generative fine-tune: the base plus this adapter, which has learnt the team's documents and "
               "question set closed-book and writes its answers. It cannot know what arrived after training "
               "(corpus/updates).", facts, command, metadata=metadata)
