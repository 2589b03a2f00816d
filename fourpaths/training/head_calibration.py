"""Measuring the answer head while it trains, and choosing on dev.jsonl its abstention threshold and the
checkpoint that ships (the one with the best calibration objective, kept in the run folder as training goes).

The threshold is chosen on corpus/qa/dev.jsonl, questions written the way people ask (never an evaluation set):
the answerable ones are its questions about facts train.jsonl teaches (kind docs, trained); every other dev
question (kind none, facts only in updates/ or in documents no train question asks about) is one that no taught
answer fits, and the head should abstain on it. A corpus without dev.jsonl (the tests' small corpus) falls back
on held-out rewordings of the train questions and held-out generated negatives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fourpaths.answering.answer_head import head_logits
from fourpaths.measure.scoring import strict

BEST_WEIGHTS, BEST_FILE = "best_adapter.safetensors", "best.json"
# The share of the calibration's unanswerable questions the threshold must refuse: the fine-tuned path's target on
# eval_unanswerable (0.80) and a margin for dev's size; the lowest such threshold answers the most.
DECLINE_TARGET = 0.85


@dataclass(frozen=True)
class Calibration:
    source: str  # "dev" or "held-out"
    answerable: list[str]  # questions a taught answer fits
    references: list[str]  # their reference answers, scored with measure.scoring.strict
    unanswerable: list[str]  # questions no taught answer fits


def calibration_questions(corpus, held_questions: list[str], held_references: list[str],
                          held_negatives: list[str]) -> Calibration:
    from fourpaths.retrieval.corpus import load_questions, question_file

    if not question_file(corpus, "dev").is_file():
        return Calibration("held-out", held_questions, held_references, held_negatives)
    dev = load_questions(corpus, "dev")
    answerable = [item for item in dev if item.kind == "docs" and item.trained]
    taught = {item.id for item in answerable}
    return Calibration("dev", [item.question for item in answerable], [item.answer for item in answerable],
                       [item.question for item in dev if item.id not in taught])


def encode(tokenizer, texts: list[str], max_length: int):
    return tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def predict(model, tokenizer, texts: list[str], max_length: int, pooling: str, batch_size: int = 64):
    """Softmax probabilities (texts x answers) with dropout off."""
    import torch

    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = encode(tokenizer, texts[start:start + batch_size], max_length)
            out.append(torch.softmax(head_logits(model, batch, pooling).float(), dim=-1))
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def accuracy_and_loss(probabilities, labels: list[int]) -> tuple[float, float]:
    import torch

    if not labels:
        return 0.0, 0.0
    labels = torch.tensor(labels)
    accuracy = (probabilities.argmax(-1) == labels).float().mean().item()
    loss = -probabilities[torch.arange(len(labels)), labels].clamp_min(1e-12).log().mean().item()
    return round(accuracy, 4), round(loss, 4)


def choose_threshold(top: list[float], right: list[bool], negative_top: list[float],
                     decline: float = DECLINE_TARGET) -> dict:
    """The lowest abstention threshold that refuses at least `decline` of the unanswerable questions: among those
    that decline enough, it answers the most, so trained facts asked in other words are not refused for nothing.
    The objective (for choosing the checkpoint) is measured there: right answers given - wrong answers given (both
    as shares of the answerable questions) + the share of unanswerable questions refused. `top`: the best
    answer's probability for each answerable question, `right`: whether that answer is right; `negative_top`: the
    best probability on each unanswerable one."""
    def refused(threshold: float) -> float:  # with no unanswerable question there is nothing to refuse
        return sum(p < threshold for p in negative_top) / len(negative_top) if negative_top else 1.0

    candidates = sorted({0.0, *top, *(p + 1e-4 for p in negative_top), 1.0 + 1e-4})
    threshold = next((t for t in candidates if refused(t) >= decline - 1e-9), candidates[-1])
    answered = [ok for ok, p in zip(right, top) if p >= threshold]
    objective = (sum(answered) - (len(answered) - sum(answered))) / max(1, len(top)) + refused(threshold)
    return {"threshold": round(threshold, 4), "objective": round(objective, 4), "decline_target": decline,
            "answerable": len(top), "answered": round(len(answered) / max(1, len(top)), 4),
            "right": round(sum(answered) / max(1, len(top)), 4), "top_answer_right": round(
                sum(right) / max(1, len(top)), 4),
            "unanswerable": len(negative_top), "unanswerable_abstained": round(refused(threshold), 4)}


def calibrate(model, tokenizer, answers: list[str], calibration: Calibration, max_length: int, pooling: str) -> dict:
    """choose_threshold on the calibration questions; also says where they came from."""
    probabilities = predict(model, tokenizer, calibration.answerable, max_length, pooling)
    negatives = predict(model, tokenizer, calibration.unanswerable, max_length, pooling)
    top, picked = probabilities.max(-1) if len(calibration.answerable) else (probabilities, probabilities)
    right = [strict(answers[i], reference) for i, reference in zip(picked.tolist(), calibration.references)]
    negative_top = negatives.max(-1).values.tolist() if len(calibration.unanswerable) else []
    return {"source": calibration.source, **choose_threshold(top.tolist(), right, negative_top)}


def best_kept(run_dir: Path) -> dict:
    """The checkpoint kept so far: {"step", "objective"}, or {} before the first."""
    path = run_dir / BEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def keep_best(run_dir: Path, model, step: int, objective: float) -> None:
    """Keep this checkpoint's adapter as the one to ship: its calibration objective is the best so far."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in get_peft_model_state_dict(model).items()}, str(run_dir / BEST_WEIGHTS))
    (run_dir / BEST_FILE).write_text(json.dumps({"step": step, "objective": objective}), encoding="utf-8")


def restore_best(run_dir: Path, model) -> None:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(run_dir / BEST_WEIGHTS)))
