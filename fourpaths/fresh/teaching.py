"""Teach the shipped answer head new facts: continue its LoRA adapter on the shipped training data plus a session's
question/answer pairs, within a time budget, with a progress and a cancel callback.

The recipe (fourpaths/training/answer_head.py) trains the shipped adapter from the base in minutes. Here the
shipped adapter is the starting point: its LoRA matrices and classifier are loaded into a model whose classifier
has one more row for each new answer (each new row starts at the direction of its questions' pooled output, as
the recipe starts every row), and training goes on with each batch half new pairs, half the shipped data (so
what it was taught before is not forgotten). New pairs are reworded, and their document sentences (whole, and with
the answer cut out) are taught too, as the recipe does for the team's documents.

Only public pieces are used: the recipe's data builders and stream, PEFT's config and state-dict functions.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from fourpaths.errors import FourpathsError
from fourpaths.measure.scoring import normalise

if TYPE_CHECKING:
    from fourpaths.fresh.overlay import Overlay

NEW_SHARE = 0.5  # of each batch: the rest replays the shipped adapter's own training data
BATCH_SIZE = 16
LR_FACTOR = 0.5  # of the recipe's rates: the adapter is already trained, the new rows start near their answers
WARMUP_STEPS = 5
REWORDINGS_PER_PAIR = 3  # for the accuracy on reworded questions
MIN_CONTEXT_WORDS = 3


class TeachingCancelled(FourpathsError):
    """The cancel callback stopped the training; nothing was written where the caller looks for the adapter."""


@dataclass(frozen=True)
class TeachPair:
    question: str
    answer: str
    sentence: str = ""  # the document sentence that holds the answer, taught as a statement and as a context
    heading: str = ""


@dataclass
class Taught:
    """A trained, saved and measured answer head: the model (merged, for answering) and what it cost."""

    model: object
    tokenizer: object
    answers: list[str]
    threshold: float
    max_length: int
    summary: dict = field(default_factory=dict)
    pooling: str = "cls"  # what the classifier reads (fourpaths.answering.answer_head.POOLINGS)


_NEIGHBOURS: dict[tuple, dict[str, list[str]]] = {}
_NEIGHBOURS_LOCK = threading.Lock()


def _neighbours(base: str, words: set[str]) -> dict[str, list[str]]:
    """Word neighbours for the rewordings, computed once per base and word in this process."""
    from fourpaths.training.question_variants import word_neighbours

    with _NEIGHBOURS_LOCK:
        known = _NEIGHBOURS.setdefault((base,), {})
        missing = {word for word in words if word not in known}
    if missing:
        found = word_neighbours(missing, base)
        with _NEIGHBOURS_LOCK:
            for word in missing:
                known[word] = found.get(word, [])
    return {word: near for word, near in known.items() if near}


def train_with_pairs(shipped: Path, corpus: Path, pairs: list[TeachPair], output: Path, budget_s: float = 120.0,
                     progress: Callable[[int, float], None] | None = None,
                     cancel: Callable[[], bool] | None = None, seed: int = 0, max_steps: int | None = None,
                     batch_size: int = BATCH_SIZE) -> Taught:
    """Continue the answer head in `shipped` on its training data (from `corpus`) plus `pairs`; save it to `output`.

    Training stops when `budget_s` seconds have passed since the call (or after `max_steps`), at least one step
    done; then the adapter is saved and measured (those seconds come on top). progress(step, loss) follows each
    step; cancel() is asked before each step, and True raises TeachingCancelled with `output` left unwritten."""
    import torch
    from peft import (
        LoraConfig,
        PeftConfig,
        TaskType,
        get_peft_model,
        set_peft_model_state_dict,
    )
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from fourpaths.answering.answer_head import (
        ADAPTER_WEIGHTS,
        ANSWERS_FILE,
        HEAD_CONFIG_FILE,
        AnswerHead,
        head_logits,
        read_json,
        resolve_base,
    )
    from fourpaths.training.answer_head import (
        NEGATIVE,
        PRESETS,
        Example,
        HeadData,
        build_data,
        cut_answer,
        head_loss,
        training_stream,
    )
    from fourpaths.training.loop import LoopSettings, learning_rate
    from fourpaths.training.model_card import machine_description
    from fourpaths.training.question_variants import rewording, variable_words

    started = time.perf_counter()
    deadline = started + budget_s
    cancel = cancel or (lambda: False)
    shipped, corpus, output = Path(shipped), Path(corpus), Path(output)
    if not pairs:
        raise FourpathsError("no question/answer pairs to teach")
    config = PeftConfig.from_pretrained(str(shipped))
    if config.task_type != "SEQ_CLS":
        raise FourpathsError(f"{shipped}: adapter task_type is {config.task_type!r}, not SEQ_CLS: only an answer "
                             "head can be taught new answers")
    shipped_answers = read_json(shipped / ANSWERS_FILE, "answer list")
    head_config = read_json(shipped / HEAD_CONFIG_FILE, "head config")
    summary_path = shipped / "training_summary.json"
    preset_name = read_json(summary_path, "training summary").get("preset", "default") if summary_path.exists() \
        else "default"
    preset = PRESETS.get(preset_name, PRESETS["default"])
    max_length = int(head_config.get("max_length", preset.max_length))
    pooling = str(head_config.get("pooling", "cls"))
    base_name = str(config.base_model_name_or_path)
    base = resolve_base(base_name)

    # Labels: the shipped answers keep theirs; a pair's answer that is new gets the next one.
    answers = [str(answer) for answer in shipped_answers]
    label_of = {normalise(answer): label for label, answer in enumerate(answers)}
    for pair in pairs:
        if normalise(pair.answer) not in label_of:
            label_of[normalise(pair.answer)] = len(answers)
            answers.append(pair.answer.strip())
    new_labels = len(answers) - len(shipped_answers)

    from fourpaths.retrieval.corpus import load_questions

    train_questions = [item.question for item in load_questions(corpus, "train")]
    neighbours = _neighbours(base, variable_words(train_questions + [pair.question for pair in pairs]))

    variant = rewording(neighbours, preset.natural_share)

    replay_data = build_data(corpus, seed, variant)
    replay_label = {NEGATIVE: NEGATIVE}  # the replayed negatives stay questions no answer fits
    for label, answer in enumerate(replay_data.answers):
        if normalise(answer) not in label_of:  # the corpus moved on since the adapter was trained
            label_of[normalise(answer)] = len(answers)
            answers.append(answer)
        replay_label[label] = label_of[normalise(answer)]
    replay = training_stream(replay_data, preset, seed, variant)

    questions = [Example(pair.question, label_of[normalise(pair.answer)], "question") for pair in pairs]
    statements, contexts = [], []
    for pair in pairs:
        if not pair.sentence:
            continue
        label = label_of[normalise(pair.answer)]
        prefix = f"{pair.heading}: " if pair.heading else ""
        statements.append(Example(prefix + pair.sentence, label, "statement"))
        cut = cut_answer(pair.sentence, pair.answer)
        if cut:
            contexts.append(Example(prefix + cut, label, "context"))
    new_data = HeadData(answers, questions, statements, contexts, [], [])
    fresh = training_stream(new_data, preset, seed + 1, variant)

    torch.manual_seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the classifier is filled from the shipped adapter below
    try:
        model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=len(answers),
                                                                   use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(base)
    except Exception as error:  # noqa: BLE001 - any failure to load is the base's fault
        raise FourpathsError(f"cannot load the answer head's base {base}: {error}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=config.r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=sorted(config.target_modules),
                      modules_to_save=["classifier"])
    peft_model = get_peft_model(model, lora)
    state = load_file(str(shipped / ADAPTER_WEIGHTS))
    weight_key = next((k for k in state if k.endswith("classifier.weight")), None)
    bias_key = next((k for k in state if k.endswith("classifier.bias")), None)
    if weight_key is None or bias_key is None or state[weight_key].shape[0] != len(shipped_answers):
        raise FourpathsError(f"{shipped}: the adapter's classifier does not match its {len(shipped_answers)} answers")
    old_weight, old_bias = state[weight_key], state[bias_key]
    state[weight_key] = torch.cat([old_weight, torch.zeros(len(answers) - len(old_weight), old_weight.shape[1])])
    state[bias_key] = torch.cat([old_bias, torch.full((len(answers) - len(old_bias),), float(old_bias.mean()))])
    set_peft_model_state_dict(peft_model, state)
    if len(answers) > len(shipped_answers):
        state[weight_key][len(shipped_answers):] = _new_rows(peft_model, tokenizer, questions, old_weight,
                                                             len(shipped_answers), len(answers), max_length, pooling)
        set_peft_model_state_dict(peft_model, state)

    named = [(n, p) for n, p in peft_model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for n, p in named if "classifier" not in n]},
                                   {"params": [p for n, p in named if "classifier" in n]}], lr=0.0, weight_decay=0.0)
    schedule = LoopSettings(steps=10 ** 9, batch_size=batch_size, seq_len=max_length, learning_rate=1.0,
                            warmup_steps=WARMUP_STEPS, min_lr_ratio=1.0)  # warmup, then constant: no known end
    new_count = max(1, round(batch_size * NEW_SHARE))
    losses: list[tuple[int, float]] = []
    step, tokens, train_seconds = 0, 0, 0.0
    prepare_seconds = time.perf_counter() - started
    peft_model.train()
    while step == 0 or (time.perf_counter() < deadline and (max_steps is None or step < max_steps)):
        if cancel():
            raise TeachingCancelled(f"teaching cancelled at step {step}; the previous adapter stays in use")
        tick = time.perf_counter()
        examples = [fresh(step * new_count + i) for i in range(new_count)]
        examples += [replace(e, label=replay_label[e.label])
                     for e in (replay(step * (batch_size - new_count) + i) for i in range(batch_size - new_count))]
        batch = tokenizer([e.text for e in examples], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")
        factor = learning_rate(schedule, step) * LR_FACTOR
        optimizer.param_groups[0]["lr"] = preset.lora_lr * factor
        optimizer.param_groups[1]["lr"] = preset.head_lr * factor
        labels = torch.tensor([e.label for e in examples])
        answered, spread = head_loss(head_logits(peft_model, batch, pooling), labels)
        negative_share = float((labels == NEGATIVE).float().mean())
        loss = (1 - negative_share) * answered + preset.negative_weight * negative_share * spread
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens += int(batch["attention_mask"].sum())
        train_seconds += time.perf_counter() - tick
        losses.append((step, round(loss.item(), 4)))
        if progress:
            progress(step, losses[-1][1])
    if cancel():
        raise TeachingCancelled(f"teaching cancelled at step {step}; the previous adapter stays in use")

    peft_model.eval()
    peft_model.peft_config["default"].base_model_name_or_path = base_name
    output.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(output, safe_serialization=True)
    threshold = float(head_config["threshold"])
    (output / ANSWERS_FILE).write_text(json.dumps(answers, ensure_ascii=False, indent=0), encoding="utf-8")
    (output / HEAD_CONFIG_FILE).write_text(json.dumps({"threshold": threshold, "max_length": max_length,
                                                       "pooling": pooling}), encoding="utf-8")
    merged = peft_model.merge_and_unload().eval()
    head = AnswerHead(merged, tokenizer, answers, threshold, max_length, str(output), pooling)
    reworded = [(variant(pair.question, random.Random(f"heldout:{seed}:{i}:{j}")), pair.answer)
                for i, pair in enumerate(pairs) for j in range(REWORDINGS_PER_PAIR)]
    summary = {
        "kind": "taught answer head", "shipped_adapter": str(shipped), "base": base_name,
        "pairs": len(pairs), "new_answers": new_labels, "answers": len(answers),
        "steps": step, "batch_size": batch_size, "new_share": NEW_SHARE, "examples_trained": step * batch_size,
        "new_examples_trained": step * new_count, "tokens_trained": tokens, "budget_seconds": budget_s,
        "prepare_seconds": round(prepare_seconds, 1), "train_seconds": round(train_seconds, 1),
        "recall": shown_accuracy(head, [(p.question, p.answer) for p in pairs]),
        "reworded_accuracy": shown_accuracy(head, reworded), "reworded_questions": len(reworded),
        "shipped_recall": shown_accuracy(head, [(q.text, answers[replay_label[q.label]])
                                                for q in replay_data.questions]),
        "shipped_questions": len(replay_data.questions),
        "threshold": threshold, "machine": machine_description(), "losses": losses,
    }
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (output / "training_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return Taught(merged, tokenizer, answers, threshold, max_length, summary, pooling)


def _new_rows(peft_model, tokenizer, questions, old_weight, first: int, total: int, max_length: int, pooling: str):
    """Each new answer's row: the direction of its questions' mean pooled output (under the shipped LoRA), at the
    mean length of the shipped rows, so a new answer starts as competitive as a taught one."""
    import torch

    from fourpaths.answering.answer_head import pooled

    peft_model.eval()
    with torch.no_grad():
        texts = [q.text for q in questions if q.label >= first]
        labels = torch.tensor([q.label - first for q in questions if q.label >= first])
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        outputs = pooled(peft_model, batch, pooling)
        sums = torch.zeros(total - first, outputs.shape[1]).index_add_(0, labels, outputs)
        rows = torch.nn.functional.normalize(sums, dim=-1) * old_weight.norm(dim=-1).mean()
    peft_model.train()
    return rows


def shown_accuracy(head, items: list[tuple[str, str]]) -> float:
    """The share of questions whose shown answer (picked and above the threshold) is the expected one."""
    if not items:
        return 0.0
    questions = [question for question, _ in items]
    picks = [pick for start in range(0, len(questions), 64) for pick in head.answer_many(questions[start:start + 64])]
    right = sum(pick.answered and normalise(pick.text) == normalise(answer) for pick, (_, answer) in zip(picks, items))
    return round(right / len(items), 4)


DEFAULT_BUDGET_S = 120.0


@dataclass(kw_only=True)
class TeachReport:
    """What teaching cost (examples, steps, seconds) and what it bought (recall, rewordings)."""

    pairs: int
    new_answers: int
    examples: int  # examples trained on, new pairs and shipped data together
    new_examples: int
    steps: int
    seconds: float  # the whole call: preparing, training, saving and measuring
    train_seconds: float
    budget_s: float
    recall: float  # the taught questions, as written, that get their answer shown
    reworded_accuracy: float  # the same for rewordings (fourpaths/training/question_variants.py)
    shipped_recall: float  # the shipped adapter's own training questions, after teaching
    location: str
    losses: list[tuple[int, float]] = field(default_factory=list)

    def cost_line(self) -> str:
        return (f"{self.examples:,} examples ({self.new_examples:,} from your {self.pairs} pairs), {self.steps} steps, "
                f"{self.seconds:.0f} s ({self.train_seconds:.0f} s training, budget {self.budget_s:.0f} s)")

    def bought_line(self) -> str:
        return (f"recall on the taught pairs {self.recall:.0%}, on reworded questions {self.reworded_accuracy:.0%}; "
                f"the shipped training questions still answered: {self.shipped_recall:.0%}")



# ---------------------------------------------------------------------------
# Teaching in the background (for the page; the CLI and tests call Overlay.teach directly)


class TeachJob:
    """Overlay.teach on a thread of its own, its progress readable at any time: the page polls it."""

    def __init__(self, overlay: Overlay, pairs, budget_s: float = DEFAULT_BUDGET_S, seed: int = 0) -> None:
        self.overlay = overlay
        self.budget_s = budget_s
        self.losses: list[tuple[int, float]] = []
        self.report: TeachReport | None = None
        self.error: str | None = None
        self.started = time.perf_counter()
        self.finished: float | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pairs, seed), daemon=True, name="fourpaths-teach")
        self._thread.start()

    def _run(self, pairs, seed: int) -> None:
        try:
            self.report = self.overlay.teach(pairs, self.budget_s, self._progress, self._cancel.is_set, seed)
        except FourpathsError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 - the page shows it; the thread must not die silently
            self.error = f"teaching failed: {type(error).__name__}: {error}"
        finally:
            self.finished = time.perf_counter()

    def _progress(self, step: int, loss: float) -> None:
        self.losses.append((step, loss))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
