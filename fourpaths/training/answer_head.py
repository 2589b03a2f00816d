"""Recipe: `fourpaths train lora` -> models/lora, a LoRA adapter (PEFT, task type SEQ_CLS) on all-MiniLM-L6-v2 with
a classification head over the distinct answers of corpus/qa/train.jsonl. Inference: fourpaths/answering/answer_head.py.

The classifier reads the model's sentence embedding (the normalised mean of its last hidden states, "mean" pooling)
and each answer's row starts at the direction of its train questions' embeddings, so step 0 is already
nearest-question matching with the base's pretrained sense of what questions mean; training sharpens that.

Training data, all from corpus/docs and corpus/qa/train.jsonl (never corpus/updates or the evaluation sets):
- questions: each train question, labelled with its answer; most appearances reworded (question_variants), half
  of those the way people ask (first person, everyday words, an opener or a situation);
- statements: each document sentence that holds a train answer of that document, under its heading, labelled
  with that answer (the longest one when it holds several);
- contexts: the same sentences with the answer cut out ("Annual leave: Every full-time employee receives"), so
  the head also learns the document's own words for the fact, which paraphrased questions often borrow;
- negatives (head_negatives): generated questions no taught answer fits, off-topic and near misses; on them the
  loss pulls the answer distribution towards uniform (outlier exposure), so its top probability falls below
  the threshold.

The threshold is the softmax probability below which the head abstains, chosen on corpus/qa/dev.jsonl
(head_calibration); held out from training, for the curve: one rewording of every train question (seeded apart),
a share of the sentences asked as their context, and a share of the negatives.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from fourpaths.answering.answer_head import ANSWERS_FILE, HEAD_CONFIG_FILE, MINILM_NAME, head_logits, pooled
from fourpaths.errors import FourpathsError
from fourpaths.measure.scoring import contains_words, normalise
from fourpaths.training.head_calibration import (
    accuracy_and_loss,
    best_kept,
    calibrate,
    calibration_questions,
    encode,
    keep_best,
    predict,
    restore_best,
)

# "dense": attention output and both MLP layers (and BERT's pooler, which "mean" pooling leaves unused)
TARGET_MODULES = ("query", "key", "value", "dense")
RECIPE_DEFAULTS = {"corpus": "corpus", "output": "models/lora", "run_dir": "runs/lora", "preset": "default",
                   "seed": 0, "steps": None}
HELDOUT_SENTENCE_SHARE = 0.2  # also the share of generated negatives held out
NEGATIVE = -1  # the label of a question no taught answer fits
MIN_CONTEXT_WORDS = 3
LOG_EVERY = 10

@dataclass(frozen=True)
class HeadPreset:
    steps: int
    batch_size: int
    rank: int
    alpha: int
    dropout: float
    lora_lr: float  # the LoRA matrices
    head_lr: float  # the classifier is new to the model (trained in full) and takes a larger rate
    warmup_steps: int
    checkpoint_every: int
    max_length: int = 64
    question_repeats: int = 4  # questions are few beside the sentences: each comes this often per epoch
    reworded_share: float = 0.7
    natural_share: float = 0.5  # of the rewordings: natural_variant, the rest question_variant
    negative_share: float = 0.15  # of each batch: generated negatives
    negative_weight: float = 0.5  # their loss (cross-entropy against the uniform distribution) beside the answers'
    pooling: str = "mean"
    # Classifier rows start at each answer's pooled questions, scaled so that logits begin as cosine x this.
    prototype_scale: float = 20.0
    tiny_base: bool = False  # micro: a random tiny BERT built in the run folder instead of all-MiniLM-L6-v2


# default: the base's sentence embedding already finds the right answer for most of dev's questions at step 0; at a
# LoRA rate of 1e-3 200 steps lost some of that (dev top answer right 0.91 -> 0.77) while sharpening abstention,
# hence the lower rates, a checkpoint every 25 steps and the best of them kept (docs/design.md has the figures).
PRESETS = {
    "micro": HeadPreset(steps=40, batch_size=16, rank=4, alpha=8, dropout=0.0, lora_lr=1e-3, head_lr=5e-3,
                        warmup_steps=2, checkpoint_every=20, max_length=48, tiny_base=True),
    "default": HeadPreset(steps=150, batch_size=32, rank=16, alpha=32, dropout=0.05, lora_lr=5e-4, head_lr=5e-3,
                          warmup_steps=20, checkpoint_every=25),
}


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    kind: str  # "question", "statement", "context", "negative" (label NEGATIVE)


@dataclass
class HeadData:
    answers: list[str]
    questions: list[Example]  # train.jsonl as written
    statements: list[Example]
    contexts: list[Example]
    heldout_reworded: list[Example]
    heldout_contexts: list[Example]
    negatives: list[Example] = field(default_factory=list)
    heldout_negatives: list[Example] = field(default_factory=list)
    counts: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Data

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9£\"'(])")


def _clean_line(line: str) -> str:
    line = re.sub(r"^\s*(#+|[-*+]|\d+[.)])\s*", "", line)
    return " ".join(line.replace("**", "").replace("`", "").split())


def headed_sentences(text: str) -> list[tuple[str, str]]:
    """(heading, sentence) for every sentence and bullet of a Markdown document, table rows included."""
    heading, found = "", []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            heading = _clean_line(line)
            continue
        cleaned = _clean_line(line.replace("|", " ; ").strip(" ;")) if "|" in line else _clean_line(line)
        if not cleaned or set(cleaned) <= set("-:; "):
            continue
        found.extend((heading, part) for part in _SENTENCE_END.split(cleaned) if part)
    return found


def cut_answer(sentence: str, answer: str) -> str | None:
    """The sentence without the answer (every time it occurs), or None where the answer is not there as written
    (any case) or too little is left."""
    rest, cuts = re.subn(re.escape(answer), " ", sentence, flags=re.IGNORECASE)
    if not cuts:
        return None
    rest = " ".join(rest.split()).strip(" .,;:-")
    return rest if len(rest.split()) >= MIN_CONTEXT_WORDS else None


def _held_out(key: str, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return digest[0] / 256 < HELDOUT_SENTENCE_SHARE


def build_data(corpus: Path, seed: int, variant: Callable[[str, random.Random], str]) -> HeadData:
    from fourpaths.retrieval.corpus import load_documents, load_questions
    from fourpaths.training.head_negatives import negative_questions

    items = load_questions(corpus, "train")
    documents = {document.source: document for document in load_documents(corpus, ("docs",))}
    answers: list[str] = []
    label_of: dict[str, int] = {}
    for item in items:  # one class per distinct answer, in order of first appearance
        key = normalise(item.answer)
        if key not in label_of:
            label_of[key] = len(answers)
            answers.append(item.answer.strip())
    questions = [Example(item.question, label_of[normalise(item.answer)], "question") for item in items]

    by_source: dict[str, list[str]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item.answer)
    statements, contexts, heldout_contexts = [], [], []
    ambiguous = 0
    for source, document in documents.items():
        candidates = sorted({a.strip() for a in by_source.get(source, [])}, key=lambda a: -len(normalise(a)))
        for heading, sentence in headed_sentences(document.text):
            said = normalise(sentence)
            held = [a for a in candidates if contains_words(said, normalise(a))]
            if not held:
                continue
            if len(held) > 1 and len(normalise(held[0])) == len(normalise(held[1])):
                ambiguous += 1  # two answers of the same length: no way to tell which the sentence is for
                continue
            answer, label = held[0], label_of[normalise(held[0])]
            prefix = f"{heading}: " if heading else ""
            cut = cut_answer(sentence, answer)
            if cut:  # the heading may name the answer too ("The Vaultline password manager")
                cut_heading = re.sub(re.escape(answer), " ", heading, flags=re.IGNORECASE)
                cut_heading = " ".join(cut_heading.split()).strip(" .,;:-")
                cut = f"{cut_heading}: {cut}" if cut_heading else cut
            if _held_out(f"{source}:{sentence}", seed):
                if cut:
                    heldout_contexts.append(Example(cut, label, "context"))
                continue
            statements.append(Example(prefix + sentence, label, "statement"))
            if cut:
                contexts.append(Example(cut, label, "context"))
    heldout_reworded = [Example(variant(q.text, random.Random(f"heldout:{seed}:{i}")), q.label, "question")
                        for i, q in enumerate(questions)]
    negatives, heldout_negatives = [], []
    for text in negative_questions([document.text for document in documents.values()], seed):
        (heldout_negatives if _held_out(f"negative:{text}", seed) else negatives).append(
            Example(text, NEGATIVE, "negative"))
    counts = {"train_questions": len(questions), "answers": len(answers), "statements": len(statements),
              "contexts": len(contexts), "ambiguous_sentences_skipped": ambiguous, "negatives": len(negatives),
              "heldout_reworded": len(heldout_reworded), "heldout_contexts": len(heldout_contexts),
              "heldout_negatives": len(heldout_negatives), "documents": len(documents)}
    return HeadData(answers, questions, statements, contexts, heldout_reworded, heldout_contexts, negatives,
                    heldout_negatives, counts)


def training_stream(data: HeadData, preset: HeadPreset, seed: int, variant) -> Callable[[int], Example]:
    """Example i of the training stream; depends only on (seed, i), so a resumed run sees the same data."""
    from fourpaths.training.team_data import epoch_stream

    pool = data.questions * preset.question_repeats + data.statements + data.contexts
    chosen = epoch_stream(pool, seed)
    negatives = epoch_stream(data.negatives, seed + 1) if data.negatives else None

    def example(index: int) -> Example:
        if negatives and random.Random(f"{seed}:negative:{index}").random() < preset.negative_share:
            return negatives(index)
        picked = chosen(index)
        if picked.kind == "statement":
            return picked
        rng = random.Random(f"{seed}:reworded:{index}")
        if rng.random() >= preset.reworded_share:
            return picked
        return replace(picked, text=variant(picked.text, rng))

    return example


def _variant_for(corpus: Path, embedder_location: str, natural_share: float):
    from fourpaths.retrieval.corpus import load_questions
    from fourpaths.training.question_variants import rewording, variable_words, word_neighbours

    words = variable_words(item.question for item in load_questions(corpus, "train"))
    return rewording(word_neighbours(words, embedder_location), natural_share)


def head_loss(logits, labels):
    """Cross-entropy on answer examples; on negatives (label NEGATIVE), cross-entropy against the uniform
    distribution over the answers (outlier exposure), weighted by the caller's share of it. Returns the two
    means; either is 0 when the batch has none of its kind."""
    import torch

    logits, is_negative = logits.float(), labels == NEGATIVE
    answered = torch.nn.functional.cross_entropy(logits[~is_negative], labels[~is_negative]) \
        if bool((~is_negative).any()) else logits.sum() * 0.0
    spread = -torch.log_softmax(logits[is_negative], dim=-1).mean() if bool(is_negative.any()) else logits.sum() * 0.0
    return answered, spread


# ---------------------------------------------------------------------------
# Model


def make_micro_base(folder: Path, seed: int) -> str:
    """A tiny random BERT (with the all-MiniLM-L6-v2 tokenizer) for the micro preset: trains in seconds."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from fourpaths.retrieval.embedder import default_embedder_location

    if (folder / "config.json").is_file():
        return str(folder)
    tokenizer = AutoTokenizer.from_pretrained(default_embedder_location())
    torch.manual_seed(seed)
    # At BERT's usual initializer_range (0.02) every input's [CLS] state is the same to three places, so there is
    # nothing for a head to tell apart; at 0.5 the pooled outputs of different questions differ (cosines ~0.5-0.7).
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, initializer_range=0.5)
    folder.mkdir(parents=True, exist_ok=True)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _prototype_init(model, tokenizer, data: HeadData, max_length: int, pooling: str, scale: float) -> None:
    """Start each answer's classifier row at the direction of its questions' pooled output, scaled so that the
    logits begin as cosines times `scale`: the head starts as nearest-question matching."""
    import torch

    model.eval()
    with torch.no_grad():
        outputs = []
        texts = [q.text for q in data.questions]
        for start in range(0, len(texts), 64):
            outputs.append(pooled(model, encode(tokenizer, texts[start:start + 64], max_length), pooling))
        outputs = torch.cat(outputs)
        sums = torch.zeros(len(data.answers), outputs.shape[1])
        sums.index_add_(0, torch.tensor([q.label for q in data.questions]), outputs)
        directions = torch.nn.functional.normalize(sums, dim=-1)
        model.classifier.weight.copy_(directions * scale / outputs.norm(dim=-1).mean())
        model.classifier.bias.zero_()
    model.train()


# ---------------------------------------------------------------------------
# The recipe


def train_answer_head(corpus: Path, output: Path, run_dir: Path, preset: str = "default", seed: int = 0,
                      steps: int | None = None, progress=print) -> dict:
    """Train the answer head, resuming from run_dir/checkpoint when a run was stopped; write the adapter folder.

    Returns the training summary (also written to output/training_summary.json)."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from fourpaths.retrieval.embedder import default_embedder_location
    from fourpaths.training.head_card import write_card
    from fourpaths.training.loop import (
        LoopSettings,
        Progress,
        _load_checkpoint,
        _save_checkpoint,
        learning_rate,
    )
    from fourpaths.training.model_card import machine_description, recipe_command

    if preset not in PRESETS:
        raise FourpathsError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    chosen = PRESETS[preset]
    if steps is not None:
        chosen = replace(chosen, steps=steps)
    corpus, output, run_dir = Path(corpus), Path(output), Path(run_dir)
    command = recipe_command("lora", {"corpus": corpus, "output": output, "run_dir": run_dir, "preset": preset,
                                      "seed": seed, "steps": steps}, RECIPE_DEFAULTS)
    run_dir.mkdir(parents=True, exist_ok=True)
    if chosen.tiny_base:
        base, base_name = make_micro_base(run_dir / "micro-base", seed), None
    else:
        base, base_name = default_embedder_location(), MINILM_NAME
    base_name = base_name or base

    started = time.perf_counter()
    variant = _variant_for(corpus, base, chosen.natural_share)
    data = build_data(corpus, seed, variant)
    counts = data.counts
    progress(f"answer head: {counts['answers']} answers; {counts['train_questions']} questions, "
             f"{counts['statements']} statements, {counts['contexts']} contexts, {counts['negatives']} negatives; "
             f"held out {counts['heldout_reworded']} reworded questions, {counts['heldout_contexts']} contexts and "
             f"{counts['heldout_negatives']} negatives")
    heldout = data.heldout_reworded + data.heldout_contexts
    calibration = calibration_questions(corpus, [e.text for e in heldout], [data.answers[e.label] for e in heldout],
                                        [e.text for e in data.heldout_negatives])
    _check_run(run_dir, {"preset": preset, "seed": seed, "answers": data.answers, "base": base_name})

    torch.manual_seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "classifier newly initialised" is the point here, not a warning
    try:
        model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=len(data.answers),
                                                                   use_safetensors=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(base)
    _prototype_init(model, tokenizer, data, chosen.max_length, chosen.pooling, chosen.prototype_scale)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=chosen.rank, lora_alpha=chosen.alpha,
                        lora_dropout=chosen.dropout, target_modules=list(TARGET_MODULES),
                        modules_to_save=["classifier"])
    peft_model = get_peft_model(model, config)
    named = [(n, p) for n, p in peft_model.named_parameters() if p.requires_grad]
    head_parameters = [p for n, p in named if "classifier" in n]
    lora_parameters = [p for n, p in named if "classifier" not in n]
    optimizer = torch.optim.AdamW([{"params": lora_parameters, "lr": chosen.lora_lr},
                                   {"params": head_parameters, "lr": chosen.head_lr}], weight_decay=0.0)
    schedule = LoopSettings(steps=chosen.steps, batch_size=chosen.batch_size, seq_len=chosen.max_length,
                            learning_rate=1.0, warmup_steps=chosen.warmup_steps)
    checkpoint = run_dir / "checkpoint"
    state = _load_checkpoint(checkpoint, peft_model, optimizer) if (checkpoint / "progress.json").exists() \
        else Progress()
    curve_path = run_dir / "heldout_curve.json"
    curve = json.loads(curve_path.read_text()) if curve_path.exists() and state.step else []
    if state.step:
        progress(f"answer head: resuming at step {state.step} of {chosen.steps}")
    if state.step < chosen.steps:  # (first step, last step, total steps): a stretched schedule stays on record
        state.segments.append((state.step, chosen.steps, chosen.steps))
    stream = training_stream(data, chosen, seed, variant)

    peft_model.train()
    window_started, window_examples = time.perf_counter(), 0
    while state.step < chosen.steps:
        tick = time.perf_counter()
        examples = [stream(state.cursor + i) for i in range(chosen.batch_size)]
        state.cursor += chosen.batch_size
        batch = encode(tokenizer, [e.text for e in examples], chosen.max_length)
        labels = torch.tensor([e.label for e in examples])
        factor = learning_rate(schedule, state.step)
        optimizer.param_groups[0]["lr"] = chosen.lora_lr * factor
        optimizer.param_groups[1]["lr"] = chosen.head_lr * factor
        answered, spread = head_loss(head_logits(peft_model, batch, chosen.pooling), labels)
        negative_share = float((labels == NEGATIVE).float().mean())
        loss = (1 - negative_share) * answered + chosen.negative_weight * negative_share * spread
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.tokens += int(batch["attention_mask"].sum())
        state.seconds += time.perf_counter() - tick
        state.losses.append((state.step, round(loss.item(), 4)))
        window_examples += len(examples)
        if state.step % LOG_EVERY == 0 or state.step == chosen.steps:
            rate = window_examples / max(1e-9, time.perf_counter() - window_started)
            progress(f"answer head: step {state.step}/{chosen.steps} loss {state.recent_loss(LOG_EVERY):.3f} "
                     f"({rate:.1f} examples/s)")
            window_started, window_examples = time.perf_counter(), 0
        if state.step % chosen.checkpoint_every == 0 or state.step == chosen.steps:
            accuracy, heldout_loss = accuracy_and_loss(
                predict(peft_model, tokenizer, [e.text for e in heldout], chosen.max_length, chosen.pooling),
                [e.label for e in heldout])
            calibrated = calibrate(peft_model, tokenizer, data.answers, calibration, chosen.max_length, chosen.pooling)
            curve = [point for point in curve if point["step"] < state.step]
            curve.append({"step": state.step, "heldout_accuracy": accuracy, "heldout_loss": heldout_loss,
                          "train_loss": state.recent_loss(), f"{calibration.source}_objective": calibrated["objective"],
                          f"{calibration.source}_right": calibrated["right"],
                          f"{calibration.source}_abstained": calibrated["unanswerable_abstained"]})
            progress(f"answer head: step {state.step} held-out accuracy {accuracy:.3f}, loss {heldout_loss:.3f}; "
                     f"{calibration.source}: right {calibrated['right']:.3f}, abstained on "
                     f"{calibrated['unanswerable_abstained']:.3f} at threshold {calibrated['threshold']}")
            # ties go to the later checkpoint: as good on dev, and it has seen more of its data
            if calibrated["objective"] >= best_kept(run_dir).get("objective", float("-inf")):
                keep_best(run_dir, peft_model, state.step, calibrated["objective"])
            _save_checkpoint(checkpoint, peft_model, optimizer, state)
            curve_path.write_text(json.dumps(curve))
            window_started = time.perf_counter()

    best = best_kept(run_dir)
    if best and best["step"] != state.step:
        restore_best(run_dir, peft_model)
        progress(f"answer head: keeping step {best['step']}, the checkpoint best on {calibration.source} "
                 f"(objective {best['objective']})")
    peft_model.eval()
    measured = _measure(peft_model, tokenizer, data, calibration, chosen)
    measured["chosen_step"] = best.get("step", state.step)
    peft_model.peft_config["default"].base_model_name_or_path = base_name
    output.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(output, safe_serialization=True)
    (output / ANSWERS_FILE).write_text(json.dumps(data.answers, ensure_ascii=False, indent=0), encoding="utf-8")
    (output / HEAD_CONFIG_FILE).write_text(json.dumps({"threshold": measured["calibration"]["threshold"],
                                                       "max_length": chosen.max_length, "pooling": chosen.pooling}),
                                           encoding="utf-8")
    trainable = sum(p.numel() for _, p in named)
    total = sum(p.numel() for p in peft_model.parameters())
    summary = {
        "kind": "answer-head", "base": base_name, "preset": preset, "seed": seed, **asdict(chosen),
        "target_modules": list(TARGET_MODULES), "modules_to_save": ["classifier"],
        "trainable_parameters": trainable, "total_parameters": total,
        "trainable_share": round(trainable / total, 4), "data": data.counts,
        "examples_trained": state.cursor, "tokens_trained": state.tokens, "segments": state.segments,
        "train_seconds": round(state.seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
        "machine": machine_description(),
        "final_train_loss": state.recent_loss(), **measured, "heldout_curve": curve, "command": command,
        "losses": state.losses,
    }
    (output / "training_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    write_card(output, summary)
    progress(f"answer head: recall on train {measured['train_recall']:.3f}, held-out accuracy "
             f"{measured['heldout_accuracy']:.3f}, threshold {measured['calibration']['threshold']}; wrote {output}")
    return summary


def _check_run(run_dir: Path, identity: dict) -> None:
    """A checkpoint belongs to one preset, seed, base and answer list; resuming another run's would mix them.
    More --steps than before is allowed: the run goes on (the schedule stretches from where it stopped)."""
    path = run_dir / "run.json"
    if (run_dir / "checkpoint" / "progress.json").exists():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            recorded = {}  # a checkpoint without its run.json is another recipe's
        if recorded != identity:
            differing = sorted(k for k in identity if recorded.get(k) != identity[k])
            raise FourpathsError(f"{run_dir}: holds a checkpoint of another run (differs in {', '.join(differing)}); "
                                 "delete that folder or give another --run-dir")
    path.write_text(json.dumps(identity), encoding="utf-8")


def _measure(model, tokenizer, data: HeadData, calibration, preset: HeadPreset) -> dict:
    def probabilities(examples):
        return predict(model, tokenizer, [e.text for e in examples], preset.max_length, preset.pooling)

    recall, train_loss = accuracy_and_loss(probabilities(data.questions), [q.label for q in data.questions])
    heldout = data.heldout_reworded + data.heldout_contexts
    accuracy, loss = accuracy_and_loss(probabilities(heldout), [e.label for e in heldout])
    return {
        "train_recall": recall, "train_loss_as_written": train_loss,
        "heldout_accuracy": accuracy, "heldout_loss": loss,
        "heldout_reworded_accuracy": accuracy_and_loss(probabilities(data.heldout_reworded),
                                                       [e.label for e in data.heldout_reworded])[0],
        "heldout_contexts_accuracy": accuracy_and_loss(probabilities(data.heldout_contexts),
                                                       [e.label for e in data.heldout_contexts])[0],
        "calibration": calibrate(model, tokenizer, data.answers, calibration, preset.max_length, preset.pooling),
    }
