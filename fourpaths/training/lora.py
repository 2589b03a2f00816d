"""Recipe: `fourpaths train lora` -> models/lora, a PEFT LoRA adapter on the base, trained on the team's data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from peft import LoraConfig, get_peft_model

from fourpaths.errors import FourpathsError
from fourpaths.models import load_causal_lm
from fourpaths.training.loop import LoopSettings
from fourpaths.training.model_card import machine_description, recipe_command, write_card
from fourpaths.training.team_data import train_on_team_data, write_summary

# The token embedding and the output projection take LoRA matrices too. Measured on the shipped base,
# 200 steps on the train questions: with the seven projections alone the loss stalled (2.28 after 300 steps,
# recall 2%); with embed_tokens and lm_head added it fell to 0.05 and recall reached 99%. Memorising facts
# about new names needs token-specific directions that low-rank changes inside the blocks do not give.
# The same choice for each kind of base: every projection in the blocks, the embedding and the output layer.
TARGET_MODULES = {
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens",
              "lm_head"),
    # BERT-style decoders: "dense" covers the attention output, both MLP layers and the output head's transform;
    # "decoder" is the output projection (tied to word_embeddings).
    "bert": ("query", "key", "value", "dense", "word_embeddings", "decoder"),
}


def target_modules_for(model) -> tuple[str, ...]:
    try:
        return TARGET_MODULES[model.config.model_type]
    except KeyError:
        raise FourpathsError(f"no LoRA target modules known for a {model.config.model_type} base; "
                             f"known: {', '.join(TARGET_MODULES)}") from None
# Short reference answers, each question six times an epoch beside the docs' statements once.
QUESTION_REPEATS = 6


@dataclass(frozen=True)
class LoraShape:
    rank: int
    alpha: int
    dropout: float = 0.0


RECIPE_DEFAULTS = {"base": "models/base", "corpus": "corpus", "output": "models/lora", "run_dir": "runs/lora",
                   "preset": "default", "seed": 0, "context_share": 0.0}

PRESETS = {
    "micro": (LoraShape(4, 8), LoopSettings(steps=4, batch_size=2, seq_len=256, learning_rate=3e-3,
                                            warmup_steps=1, checkpoint_every=2)),
    # 900 steps: with reworded questions (question_variants), 600 left recall at 72%.
    "default": (LoraShape(32, 64), LoopSettings(steps=900, batch_size=8, seq_len=256, learning_rate=3e-3,
                                                warmup_steps=20, checkpoint_every=50, weight_decay=0.0)),
}


def train_lora(base_location: str, corpus_root: Path, output: Path, run_dir: Path, preset: str = "default",
               seed: int = 0, steps: int | None = None, recall_limit: int | None = None, command: str = "",
               base_name: str | None = None, context_share: float = 0.0) -> dict:
    """base_name is how the adapter's config names its base (as the user gave it: a relative folder or hub id).
    context_share: see team_data.train_on_team_data; off by default (the trade-off is in the README)."""
    shape, settings = PRESETS[preset]
    command = command or recipe_command("lora", {"base": base_name or base_location, "corpus": corpus_root,
                                                 "output": output, "run_dir": run_dir, "preset": preset, "seed": seed,
                                                 "steps": steps, "context_share": context_share}, RECIPE_DEFAULTS)
    if steps is not None:
        settings = LoopSettings(**{**asdict(settings), "steps": steps})
    model, tokenizer = load_causal_lm(base_location)
    targets = target_modules_for(model)
    config = LoraConfig(r=shape.rank, lora_alpha=shape.alpha, lora_dropout=shape.dropout,
                        target_modules=list(targets), task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    variant = _question_variant(corpus_root)
    run = train_on_team_data(peft_model, tokenizer, corpus_root, settings, run_dir, seed, recall_limit, "lora",
                             QUESTION_REPEATS, short_answers=True, variant=variant, context_share=context_share)
    peft_model.peft_config["default"].base_model_name_or_path = base_name or base_location
    output.mkdir(parents=True, exist_ok=True)
    # The embedding and output layers stay frozen; only their LoRA matrices belong in the adapter, not a
    # second copy of the base's vocabulary tables (PEFT saves those by default when they are targeted).
    peft_model.save_pretrained(output, safe_serialization=True, save_embedding_layers=False)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    summary = {"base": base_name or base_location, "rank": shape.rank, "alpha": shape.alpha,
               "target_modules": list(targets), "trainable_parameters": trainable,
               "trainable_share": round(trainable / total, 4), **run}
    write_summary(output, summary)
    _write_card(output, settings, summary, command)
    return summary


def _question_variant(corpus_root: Path):
    """Rewording for the train questions, with word neighbours from the shipped embedder (question_variants)."""
    from functools import partial

    from fourpaths.corpus import load_questions
    from fourpaths.retrieval import default_embedder_location
    from fourpaths.training.question_variants import question_variant, variable_words, word_neighbours

    words = variable_words(item.question for item in load_questions(corpus_root, "train"))
    return partial(question_variant, neighbours=word_neighbours(words, default_embedder_location()))


def _write_card(output: Path, settings: LoopSettings, summary: dict, command: str) -> None:
    facts = {
        "Base": summary["base"],
        "LoRA": f"rank {summary['rank']}, alpha {summary['alpha']}, on {', '.join(summary['target_modules'])}",
        "Trainable parameters": f"{summary['trainable_parameters']:,} ({summary['trainable_share']:.1%} of the "
                                "adapted model)",
        "Training data": f"{summary['statements']} statement chunks of corpus/docs and {summary['questions']} "
                         f"questions of corpus/qa/train.jsonl (each {summary['question_repeats']} times per epoch, "
                         f"answered with {'the short reference answer' if summary['short_answers'] else 'its source sentence'}), "
                         f"{summary['tokens_trained']:,} tokens in all; never corpus/updates or the evaluation sets. "
                         f"{summary['reworded_share']:.0%} of the questions' appearances are reworded: words dropped, "
                         "swapped or replaced by their nearest neighbours in all-MiniLM-L6-v2's word-embedding table "
                         "(fourpaths/training/question_variants.py)"
                         + (f"; {summary['context_share']:.0%} of the reworded ones start from the document's own "
                            "sentence that holds the answer, the answer cut out, under its heading "
                            "(team_data.answer_contexts)" if summary.get("context_share") else ""),
        "Steps": f"{summary['steps']} x {settings.batch_size} rows x {settings.seq_len} tokens, lr {settings.learning_rate}",
        "Wall time": f"{summary['train_seconds'] / 60:.1f} min on {machine_description()}",
        "Final training loss": str(summary["final_train_loss"]),
        "Closed-book recall on train.jsonl": f"{summary['train_recall']:.0%} of {summary['recall_n']} answers contain "
                                             "the reference answer (greedy)",
    }
    write_card(output, "fourpaths LoRA adapter",
               "The fine-tuning path: the shared base plus this adapter, which has learnt the team's documents and "
               "question set closed-book. It cannot know what arrived after training (corpus/updates).",
               facts, command)
