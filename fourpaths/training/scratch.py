"""Recipe: `fourpaths train scratch` -> models/scratch, a tiny model trained from random weights on the team's
data alone: its own tokenizer and its weights have seen nothing but corpus/docs and corpus/qa/train.jsonl."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from transformers import AutoTokenizer

from fourpaths.retrieval.corpus import load_documents, load_questions
from fourpaths.training.base import BaseShape, build_model
from fourpaths.training.encoding import generator_for
from fourpaths.training.loop import LoopSettings
from fourpaths.training.model_card import (
    generation_run_facts,
    recipe_command,
    write_card,
)
from fourpaths.training.team_data import train_on_team_data, write_summary
from fourpaths.training.tokenizer import save_tokenizer, train_tokenizer

MAX_PARAMETERS = 5_000_000

RECIPE_DEFAULTS = {"corpus": "corpus", "output": "models/scratch", "run_dir": "runs/scratch", "preset": "default",
                   "seed": 0}

PRESETS = {
    "micro": (BaseShape(300, 32, 2, 2, 1, 64, 512),
              LoopSettings(steps=4, batch_size=2, seq_len=256, learning_rate=3e-3, warmup_steps=1, checkpoint_every=2)),
    "default": (BaseShape(4096, 192, 4, 6, 2, 512, 512),
                LoopSettings(steps=400, batch_size=8, seq_len=512, learning_rate=2e-3, warmup_steps=20,
                             checkpoint_every=50)),
}


def _team_texts(corpus_root: Path):
    for document in load_documents(corpus_root, ("docs",)):
        yield document.text
    for item in load_questions(corpus_root, "train"):
        yield f"{item.question}\n{item.answer}"


def _load_or_train_tokenizer(run_dir: Path, corpus_root: Path, vocab_size: int):
    folder = run_dir / "tokenizer"
    if not (folder / "tokenizer.json").exists():
        save_tokenizer(train_tokenizer(_team_texts(corpus_root), vocab_size), folder)
    return AutoTokenizer.from_pretrained(folder)


def train_scratch(corpus_root: Path, output: Path, run_dir: Path, preset: str = "default", seed: int = 0,
                  steps: int | None = None, recall_limit: int | None = None, command: str = "") -> dict:
    shape, settings = PRESETS[preset]
    command = command or recipe_command("scratch", {"corpus": corpus_root, "output": output, "run_dir": run_dir,
                                                    "preset": preset, "seed": seed, "steps": steps}, RECIPE_DEFAULTS)
    if steps is not None:
        settings = LoopSettings(**{**asdict(settings), "steps": steps})
    run_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _load_or_train_tokenizer(run_dir, corpus_root, shape.vocab_size)
    model = build_model(shape, tokenizer, seed)
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise ValueError(f"scratch model has {parameters:,} parameters; the limit is {MAX_PARAMETERS:,}")
    generator = generator_for(model, tokenizer, str(output))
    run = train_on_team_data(generator, corpus_root, settings, run_dir, seed, recall_limit, "scratch")
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    summary = {"parameters": parameters, **run}
    write_summary(output, summary)
    _write_card(output, shape, settings, summary, command)
    return summary


def _write_card(output: Path, shape: BaseShape, settings: LoopSettings, summary: dict, command: str) -> None:
    facts = {
        "Architecture": f"LlamaForCausalLM, {shape.layers} layers x {shape.hidden} wide, {shape.heads} heads, "
                        f"MLP {shape.intermediate}, tied embeddings, random initialisation",
        "Parameters": f"{summary['parameters']:,} (limit {MAX_PARAMETERS:,})",
        "Tokenizer": f"its own byte-level BPE, {shape.vocab_size} entries, trained on the same team data",
        "Training data": f"{summary['statements']} statement chunks of corpus/docs and "
                         f"{summary['questions']} questions "
                         f"of corpus/qa/train.jsonl (each {summary.get('question_repeats', 2)} times per epoch), "
                         f"{summary['tokens_trained']:,} tokens in all",
        **generation_run_facts(summary, settings),
    }
    write_card(output, "fourpaths tiny model trained from scratch",
               "The from-scratch path: everything it knows comes from the team's documents and question set, so it "
               "shows how far a few megabytes of weights and a few minutes of CPU get you without a pretrained base.",
               facts, command,
               metadata={"license": "apache-2.0", "library_name": "transformers", "pipeline_tag": "text-generation",
                         "tags": ["llama", "fourpaths", "trained-from-scratch"]})
