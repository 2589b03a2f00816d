"""Recipe: `fourpaths train base` -> models/base, a small Llama-style model pretrained on fictional worlds.

Run folder (checkpoints, tokenizer) and output folder are separate, so an interrupted run resumes and the
shipped folder only ever holds a finished model.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from faker import Faker
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from fourpaths.errors import FourpathsError
from fourpaths.training import base_data, copy_data, induction_data, reading_eval
from fourpaths.training.corpus_text import stdlib_docstrings
from fourpaths.training.encoder_start import causal_lm_from_encoder, default_encoder_folder
from fourpaths.training.encoding import encode
from fourpaths.training.loop import LoopSettings, train
from fourpaths.training.model_card import machine_description, recipe_command, write_card
from fourpaths.training.team_data import write_summary
from fourpaths.training.tokenizer import save_tokenizer, train_tokenizer

TOKENIZER_SEED_OFFSET = 1_000_000_000  # tokenizer text comes from a stretch of the stream never trained on


@dataclass(frozen=True)
class BaseShape:
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    max_positions: int


# The run folder's default depends on the stage (STAGE_RUN_DIRS).
RECIPE_DEFAULTS = {"output": "models/base", "preset": "default", "seed": 0, "stage": "pretrain", "init_from": None,
                   "encoder": None, "save_dtype": "float32"}
# Each stage checkpoints in its own folder, so a reading stage never resumes a pretraining checkpoint.
STAGE_RUN_DIRS = {"from-encoder": "runs/base-from-encoder", "encoder-reading": "runs/base-encoder-reading",
                  "encoder-quoting": "runs/base-encoder-quoting",
                  "induction": "runs/base-induction",
                  "induction-long": "runs/base-induction-long", "pretrain": "runs/base", "reading": "runs/base-reading",
                  "quoting": "runs/base-quoting"}
# Stages that start a new model (a fresh one, or the pretrained encoder); the others continue one.
FRESH_STAGES = ("induction", "pretrain", "from-encoder")

PRESETS = {
    "micro": (BaseShape(512, 32, 2, 2, 1, 64, 512),
              LoopSettings(steps=6, batch_size=2, seq_len=256, learning_rate=3e-3, warmup_steps=2,
                           checkpoint_every=3), 300),
    "default": (BaseShape(8192, 256, 4, 8, 4, 768, 1024),
                LoopSettings(steps=2000, batch_size=8, seq_len=640, learning_rate=1.5e-3, warmup_steps=100,
                             checkpoint_every=50), 20000),
    # Two layers, 128 wide: small enough to start copying on two CPU cores. Measured on the induction stage:
    # loss on the repeat 9.0 -> 2.9 in 3,000 steps (12 min). The 4 x 256 "default" model stayed near chance
    # after 600 steps: warm from the shipped base 8.8 (chance 9.0), fresh on 200 of the ids 5.22 (chance 5.30).
    "small": (BaseShape(8192, 128, 2, 4, 4, 384, 1024),
              LoopSettings(steps=2000, batch_size=8, seq_len=640, learning_rate=2e-3, warmup_steps=100,
                           checkpoint_every=50), 20000),
    # A 2,048-entry vocabulary and 64-wide heads: the copying circuit forms sooner when every id is seen often
    # and each head's copy path is wide. Measured on induction trials, 1 thread: this body fell from chance
    # (7.6) to 6.2 by step 1,500, while 8,192 ids on the same body (600 steps) and 2 x 256 or 3 x 192 bodies
    # with 2,048 ids (700 steps) still sat at chance. The recipe's induction stage: 1.9 after 3,000 steps.
    "reader": (BaseShape(2048, 128, 2, 2, 2, 384, 1024),
               LoopSettings(steps=2000, batch_size=8, seq_len=768, learning_rate=2e-3, warmup_steps=100,
                            checkpoint_every=50), 20000),
}
# The copying stage: short rows of repeated random strings at a constant learning rate, since the circuit
# forms only after a plateau that a decaying rate would stretch. Both real shapes use the same schedule.
_INDUCTION_FULL = LoopSettings(steps=1500, batch_size=8, seq_len=256, learning_rate=3e-3, warmup_steps=20,
                               checkpoint_every=50, min_lr_ratio=1.0)
# Copying across hundreds of tokens, continuing the induction stage's model: rows as long as reading prompts.
LONG_INDUCTION_SETTINGS = {
    "micro": LoopSettings(steps=4, batch_size=2, seq_len=768, learning_rate=3e-3, warmup_steps=1, checkpoint_every=2,
                          min_lr_ratio=1.0),
    **dict.fromkeys(("default", "small", "reader"),
                    LoopSettings(steps=1500, batch_size=6, seq_len=768, learning_rate=2e-3, warmup_steps=20,
                                 checkpoint_every=50, min_lr_ratio=1.0)),
}
# The encoder's first stage: dense span copying at a constant rate, since copying forms after a plateau.
# One example a row: measured on 2 cores, lr 3e-4, 600 steps each, the loss on the spans
# - 16 rows of one example (about 140 tokens, 3 s a step): near 4.5-5 for 300 steps, then 2.3 at step 400
#   and 0.27 at step 600;
# - 4 rows packed to 512 tokens (3-4 examples a row, 5 s a step): 4.3 averaged over its last 50 steps, no drop.
ENCODER_COPY_SETTINGS = {
    "micro": LoopSettings(steps=4, batch_size=2, seq_len=256, learning_rate=3e-4, warmup_steps=1, checkpoint_every=2,
                          min_lr_ratio=1.0, pack=False),
    **dict.fromkeys(("default", "small", "reader"),
                    LoopSettings(steps=600, batch_size=16, seq_len=160, learning_rate=3e-4, warmup_steps=20,
                                 checkpoint_every=25, min_lr_ratio=1.0, pack=False)),
}
# Its second stage: the reading mix, one example a row (a reading example fills most of the 512 positions),
# 8 a step at lr 3e-4 as in the reading trials, decaying.
ENCODER_READING_SETTINGS = {
    "micro": LoopSettings(steps=4, batch_size=2, seq_len=256, learning_rate=3e-4, warmup_steps=1, checkpoint_every=2,
                          pack=False),
    **dict.fromkeys(("default", "small", "reader"),
                    LoopSettings(steps=600, batch_size=8, seq_len=512, learning_rate=3e-4, warmup_steps=20,
                                 checkpoint_every=25, pack=False)),
}
INDUCTION_SETTINGS = {
    "micro": LoopSettings(steps=4, batch_size=2, seq_len=128, learning_rate=3e-3, warmup_steps=1, checkpoint_every=2,
                          min_lr_ratio=1.0),
    "default": _INDUCTION_FULL,
    "small": _INDUCTION_FULL,
    "reader": _INDUCTION_FULL,
}


def tokenizer_texts(seed: int, n_examples: int, general_text: bool = True):
    for index in range(n_examples):
        example = base_data.example(seed, TOKENIZER_SEED_OFFSET + index)
        if isinstance(example, base_data.ChatExample):
            yield "\n".join(m["content"] for m in example.messages) + "\n" + example.response
        else:
            yield example.text
    if general_text:  # broad English vocabulary; the micro test preset skips it to stay fast
        yield from stdlib_docstrings()
        yield " ".join(Faker("en_US").get_words_list())


def build_model(shape: BaseShape, tokenizer, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=shape.hidden, num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        intermediate_size=shape.intermediate, max_position_embeddings=shape.max_positions,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None, rope_theta=10000.0,
    )
    return LlamaForCausalLM(config)


def load_or_train_tokenizer(run_dir: Path, shape: BaseShape, seed: int, n_examples: int):
    folder = run_dir / "tokenizer"
    if not (folder / "tokenizer.json").exists():
        tokenizer = train_tokenizer(tokenizer_texts(seed, n_examples, shape.vocab_size > 1024), shape.vocab_size)
        save_tokenizer(tokenizer, folder)
    return AutoTokenizer.from_pretrained(folder)


# The reading stage warm-starts from a pretrained base, so it needs fewer, gentler steps than pretraining.
READING_SETTINGS = {
    "micro": LoopSettings(steps=4, batch_size=2, seq_len=256, learning_rate=3e-3, warmup_steps=1, checkpoint_every=2),
    "default": LoopSettings(steps=1200, batch_size=8, seq_len=640, learning_rate=1.5e-3, warmup_steps=30,
                            checkpoint_every=50),
    "small": LoopSettings(steps=1200, batch_size=8, seq_len=640, learning_rate=2e-3, warmup_steps=30,
                          checkpoint_every=50),
    # Rows of 768: with 2,048 ids a reading example runs to 650 tokens.
    "reader": LoopSettings(steps=1200, batch_size=8, seq_len=768, learning_rate=2e-3, warmup_steps=30,
                           checkpoint_every=50),
}
STAGE_DATA = {
    "induction": "random strings of 10-30 token ids drawn evenly from the whole vocabulary, each said twice; the "
                 "loss falls on the second saying, which can only be copied",
    "induction-long": "a quarter the induction stage's strings; the rest strings of 20-200 random ids, up to 300 "
                      "other ids, then a span of 8-60 ids from anywhere in the string, learnt after its first id",
    "pretrain": "40% reading (numbered passages + question, answer quotes and cites), 20% reading where the "
                "passages lack the answer, 25% closed-book prompt templates about unknown entities, 15% "
                "handbook-style documents",
    "reading": "50% copying (repeat a string of unrelated words, or quote passage [n]), 30% reading, 10% "
               "reading where the passages lack the answer, 6% closed-book prompt templates, 4% documents",
    "from-encoder": "all-MiniLM-L6-v2's pretrained English encoder under a causal mask, trained to copy: a text "
                    "of up to 90 tokens, then three spans of 5-15 tokens taken from anywhere in it, each learnt "
                    "after its first token",
    "encoder-reading": "40% reading 2-4 passages, 10% reading one or two short passages, 20% reading where the "
                       "passages lack the answer, 15% copying, 15% closed-book prompt templates; one row in five "
                       "stays a span copy",
    "encoder-quoting": "three passages ranked as a retriever ranks them (the one that answers first 70%, second "
                       "20%, third 10%), answered by quoting that passage from its start through the line that "
                       "answers: 25% plain, 35% with 1-3 sentences of random English words among the lines; 15% "
                       "where the passages lack the answer, 10% copying, 15% closed-book prompt templates; one row "
                       "in five stays a span copy",
    "quoting": "30% copying (repeat a string of unrelated words, or quote passage [n]), 15% reading one or two "
               "short passages, 25% reading 2-4 passages, 12% reading where the passages lack the answer, 12% "
               "closed-book prompt templates, 6% documents",
}


# The held-out reading test is generated like the stage's own reading rows.
READING_TESTS = {"encoder-quoting": base_data.ranked_reading_example}

_NO_HISTORY = {"stages": [], "losses": []}  # a model that starts here has no earlier stages


def train_base(output: Path, run_dir: Path, preset: str = "default", seed: int = 0, steps: int | None = None,
               eval_size: int = 100, command: str = "", stop_at: int | None = None, stage: str = "pretrain",
               init_from: Path | None = None, encoder: str | None = None, save_dtype: str = "float32") -> dict:
    """Stages "induction" and "pretrain" build the tokenizer and a fresh model; "reading" continues `init_from`.

    "pretrain" given `init_from` continues that model too (for instance after "induction"). "from-encoder"
    starts from the pretrained encoder at `encoder` (default: the embedder's folder)."""
    shape, settings, tokenizer_examples = PRESETS[preset]
    settings = {"induction": INDUCTION_SETTINGS, "induction-long": LONG_INDUCTION_SETTINGS, "reading": READING_SETTINGS,
                "quoting": READING_SETTINGS, "from-encoder": ENCODER_COPY_SETTINGS,
                "encoder-reading": ENCODER_READING_SETTINGS, "encoder-quoting": ENCODER_READING_SETTINGS}.get(stage, {}).get(preset, settings)
    options = {"output": output, "run_dir": run_dir, "preset": preset, "seed": seed, "steps": steps, "stage": stage,
               "init_from": init_from, "encoder": encoder, "save_dtype": save_dtype}
    command = command or recipe_command("base", options, {**RECIPE_DEFAULTS, "run_dir": STAGE_RUN_DIRS[stage]})
    if steps is not None:
        settings = LoopSettings(**{**asdict(settings), "steps": steps})
    continues = continued_model(stage, output, init_from)
    if continues is not None and not (continues / "config.json").exists():
        raise FourpathsError(f"the {stage} stage continues a trained base; none found at {continues}")
    run_dir.mkdir(parents=True, exist_ok=True)
    if continues is not None:
        tokenizer, model, earlier = _warm_start(continues, run_dir)
    elif stage == "from-encoder":
        (model, tokenizer), earlier = causal_lm_from_encoder(encoder or default_encoder_folder()), _NO_HISTORY
    else:
        tokenizer = load_or_train_tokenizer(run_dir, shape, seed, tokenizer_examples)
        model, earlier = build_model(shape, tokenizer, seed), _NO_HISTORY
    stream = stage_stream(tokenizer, seed, stage)
    progress = train(model, stream, settings, tokenizer.pad_token_id, run_dir / "checkpoint", f"base ({stage})",
                     stop_at=stop_at)
    if progress.step < settings.steps:
        return {"stopped_at": progress.step, "steps": settings.steps}
    model.eval()
    scores = reading_eval.score(model, tokenizer, seed, eval_size, READING_TESTS.get(stage, base_data.reading_example))
    held_out_loss = reading_eval.held_out_loss(model, stage_stream(tokenizer, seed, stage, reading_eval.HELD_OUT_OFFSET),
                                               tokenizer.pad_token_id, settings)
    output.mkdir(parents=True, exist_ok=True)
    model.to(getattr(torch, save_dtype)).save_pretrained(output, safe_serialization=True)
    model.float()
    tokenizer.save_pretrained(output)
    this_stage = {"stage": stage, "steps": progress.step, "tokens_trained": progress.tokens,
                  "examples_seen": progress.cursor, "train_seconds": round(progress.seconds, 1),
                  "commands": reproduce_commands(progress.segments, command), "segments": progress.segments}
    stages = earlier["stages"] + [this_stage]
    summary = {
        "parameters": sum(p.numel() for p in model.parameters()), "saved_dtype": save_dtype,
        "steps": sum(s["steps"] for s in stages), "tokens_trained": sum(s["tokens_trained"] for s in stages),
        "examples_seen": sum(s["examples_seen"] for s in stages),
        "train_seconds": round(sum(s["train_seconds"] for s in stages), 1),
        "final_train_loss": progress.recent_loss(), "held_out_loss": held_out_loss, **scores, "stages": stages,
    }
    offset = earlier["losses"][-1][0] if earlier["losses"] else 0
    losses = earlier["losses"] + [(step + offset, loss) for step, loss in progress.losses]
    write_summary(output, {**summary, "losses": losses})
    _write_base_card(output, model.config, settings, summary)
    return summary


def continued_model(stage: str, output: Path, init_from: Path | None) -> Path | None:
    """The model a stage continues, or None when it builds a fresh one (see FRESH_STAGES)."""
    if stage in FRESH_STAGES and init_from is None:
        return None
    return init_from or output


def stage_stream(tokenizer, seed: int, stage: str, offset: int = 0):
    """Example i of the stage's data as (ids, labels); `offset` moves to a stretch never trained on."""
    first_id = max(tokenizer.all_special_ids) + 1
    if stage == "induction":
        return lambda index: induction_data.repeated_tokens(seed, offset + index, tokenizer.eos_token_id, first_id,
                                                            len(tokenizer))
    if stage == "induction-long":
        return lambda index: induction_data.repeated_span(seed, offset + index, tokenizer.eos_token_id, first_id,
                                                           len(tokenizer))
    if stage == "quoting":
        return lambda index: _quoting_example(tokenizer, seed, offset + index, first_id)
    if stage == "from-encoder":
        return lambda index: copy_data.text_spans(tokenizer, seed, offset + index)
    if stage in ("encoder-reading", "encoder-quoting"):
        return lambda index: _encoder_reading_example(tokenizer, seed, offset + index, stage)
    return lambda index: encode(tokenizer, base_data.example(seed, offset + index, stage))


def _quoting_example(tokenizer, seed: int, index: int, first_id: int):
    return _reading_with_copy_rows(tokenizer, seed, index, "quoting", lambda: induction_data.repeated_span(
        seed, index, tokenizer.eos_token_id, first_id, len(tokenizer)))


def _encoder_reading_example(tokenizer, seed: int, index: int, stage: str):
    # Its span rows take the stage's own stretch of seeds: the from-encoder stage had the first ones.
    return _reading_with_copy_rows(tokenizer, seed, index, stage, lambda: copy_data.text_spans(
        tokenizer, seed, base_data.STAGE_OFFSETS[stage] + index))


def _reading_with_copy_rows(tokenizer, seed: int, index: int, mix: str, copy_row):
    """One example in five stays a copy row, so that learning to read does not wear the copying circuit down."""
    if index % 5 == 0:
        return copy_row()
    return encode(tokenizer, base_data.example(seed, index, mix))


def _warm_start(init_from: Path, run_dir: Path):
    """The earlier stage's model and tokenizer, and its history, kept in the run folder on first start.

    The history is copied before this stage overwrites the output folder, so a rerun after the end still
    knows what the earlier stages were.
    """
    history = run_dir / "earlier_stages.json"
    if not history.exists():
        previous = json.loads((init_from / "training_summary.json").read_text())
        stages = previous.get("stages") or [_pretrain_stage_of(previous)]
        history.write_text(json.dumps({"stages": stages, "losses": previous.get("losses", [])}))
    tokenizer = AutoTokenizer.from_pretrained(init_from)
    model = AutoModelForCausalLM.from_pretrained(init_from, use_safetensors=True)
    return tokenizer, model, json.loads(history.read_text())


def _pretrain_stage_of(summary: dict) -> dict:
    """A summary written before stages were recorded: one pretraining stage."""
    return {"stage": "pretrain", "steps": summary["steps"], "tokens_trained": summary["tokens_trained"],
            "examples_seen": summary["examples_seen"], "train_seconds": summary["train_seconds"],
            "commands": reproduce_commands(summary.get("segments", []), "fourpaths train base"),
            "segments": summary.get("segments", [])}


def reproduce_commands(segments: list[tuple[int, int, int]], command: str) -> str:
    """One command per stretch of the run: a run resumed with another --steps had another learning-rate schedule."""
    if len(segments) <= 1:
        return command
    stem = re.sub(r" --steps \d+", "", command)
    lines = []
    for index, (_, _, total) in enumerate(segments):
        stop = f" --stop-at {segments[index + 1][0]}" if index + 1 < len(segments) else ""
        lines.append(f"{stem} --steps {total}{stop}")
    return "\n".join(lines)


def _architecture_facts(config) -> dict[str, str]:
    if config.model_type == "llama":
        return {"Architecture": f"LlamaForCausalLM, {config.num_hidden_layers} layers x {config.hidden_size} wide, "
                                f"{config.num_attention_heads} heads ({config.num_key_value_heads} key/value), "
                                f"MLP {config.intermediate_size}, tied embeddings",
                "Tokenizer": f"byte-level BPE, {config.vocab_size} entries, chat template with "
                             "<|system|>/<|user|>/<|assistant|>"}
    return {"Architecture": f"{config.architectures[0]} (causal), {config.num_hidden_layers} layers x "
                            f"{config.hidden_size} wide, {config.num_attention_heads} heads, MLP "
                            f"{config.intermediate_size}, tied embeddings, {config.max_position_embeddings} positions",
            "Tokenizer": f"the encoder's own ({config.vocab_size} entries), chat template with "
                         "system:/user:/assistant: and [SEP]"}


def _write_base_card(output: Path, config, settings: LoopSettings, summary: dict) -> None:
    stages = summary["stages"]
    facts = {**_architecture_facts(config), "Parameters": f"{summary['parameters']:,}"}
    for number, stage in enumerate(stages, 1):
        facts[f"Stage {number}: {stage['stage']}"] = (
            f"{stage['steps']} steps, {stage['examples_seen']:,} generated examples "
            f"({stage['tokens_trained']:,} tokens): {STAGE_DATA[stage['stage']]}; "
            f"{stage['train_seconds'] / 60:.1f} min")
    facts.update({
        "Training data": f"{summary['tokens_trained']:,} tokens in all, generated by the stages above; every entity "
                         "invented by Faker, so no knowledge-base fact is in them",
        "Last stage's optimizer": f"{settings.batch_size} rows x {settings.seq_len} tokens a step, AdamW peak lr "
                                  f"{settings.learning_rate}, {'bf16 autocast' if settings.bf16 else 'fp32'}",
        "Stored weights": f"{summary.get('saved_dtype', 'float32')} (the app loads them as float32)",
        "Wall time": f"{summary['train_seconds'] / 60:.1f} min in all on {machine_description()}",
        "Final training loss": f"{summary['final_train_loss']} (mean of last 20 steps, answer tokens only for chat)",
        "Held-out loss": f"{summary['held_out_loss']}",
        "Reading, answerable (held-out)": f"{summary['answer_accuracy']:.0%} contain the right value "
                                          f"({summary['reading_n']} questions)",
        "Reading, answer absent (held-out)": f"{summary['abstain_accuracy']:.0%} say the passages do not say",
        "Copying (held-out)": f"{summary['value_copy_accuracy']:.0%} complete the value when given their quote "
                              "up to it",
    })
    notes = ""
    if summary["answer_accuracy"] < 0.8:
        notes = ("At this training budget the base has not fully learnt to find and quote the answer in the passages "
                 f"({summary['answer_accuracy']:.0%} on the held-out reading set, target 80%), and the RAG path "
                 "inherits this. More reading-stage steps (or a larger model on a GPU) are the known remedy; the "
                 "recipe resumes from its checkpoints.")
    command = "\n".join(stage["commands"] for stage in stages)
    write_card(output, "fourpaths base model",
               "The shared base for the prompt, LoRA and RAG paths: fluent short answers, the prompt templates, and "
               "answering from numbered passages (or saying they lack the answer).",
               facts, command, notes)
