"""The team's own data as training examples, for the LoRA adapter and the tiny model trained from scratch.

Only corpus/docs and corpus/qa/train.jsonl are read: the update documents and the evaluation sets stay
unseen, so the evaluation measures what training alone can and cannot give.

Two kinds of example, so that a fact is learnt both as text and as the answer to a question:
- statements: each document's lines (sentences, bullets) under their heading path, as plain text;
- questions: each train question answered with the source sentence that holds its reference answer.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Callable

from fourpaths.answering import prompts
from fourpaths.retrieval.corpus import (
    Document,
    QAItem,
    chunk_document,
    load_documents,
    load_questions,
    normalise_for_match,
)
from fourpaths.training.base_data import ChatExample, TextExample

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9£\"'(])")
MAX_ANSWER_SENTENCE_WORDS = 32


def _clean_line(line: str) -> str:
    line = re.sub(r"^\s*(#+|[-*]|\d+\.)\s*", "", line)
    return " ".join(line.replace("**", "").split())


def document_sentences(document: Document) -> list[str]:
    """The document's sentences and bullet lines, without Markdown marks."""
    sentences = []
    for line in document.text.splitlines():
        cleaned = _clean_line(line)
        if cleaned:
            sentences.extend(part for part in _SENTENCE_END.split(cleaned) if part)
    return sentences


def answer_sentence(item: QAItem, documents: dict[str, Document]) -> str:
    """The shortest sentence of the source that holds the reference answer; the answer alone if none fits."""
    needle = normalise_for_match(item.answer)
    holding = [s for s in document_sentences(documents[item.source]) if needle in normalise_for_match(s)]
    holding = [s for s in holding if len(s.split()) <= MAX_ANSWER_SENTENCE_WORDS]
    return min(holding, key=len) if holding else item.answer


def statement_examples(documents: list[Document], chunk_words: int = 60) -> list[TextExample]:
    return [TextExample(chunk.text) for document in documents for chunk in chunk_document(document, chunk_words, 0)]


def question_examples(items: list[QAItem], documents: list[Document], short: bool = False) -> list[ChatExample]:
    """Each train question with its target: the reference answer alone (short) or its source sentence."""
    by_source = {document.source: document for document in documents}
    return [ChatExample(prompts.zero_shot(item.question),
                        f"{item.answer}." if short else answer_sentence(item, by_source), item.answer)
            for item in items]


def load_team_examples(corpus_root: Path, short: bool = False) -> tuple[list[TextExample], list[ChatExample]]:
    documents = load_documents(corpus_root, ("docs",))
    questions = load_questions(corpus_root, "train")
    return statement_examples(documents), question_examples(questions, documents, short)


def epoch_stream(examples: list, seed: int):
    """Example i of an endless stream of shuffled epochs; depends only on (seed, i), so resuming is exact."""
    size = len(examples)
    orders: dict[int, list[int]] = {}

    def example(index: int):
        epoch, position = divmod(index, size)
        if epoch not in orders:
            orders.clear()
            order = list(range(size))
            random.Random(f"{seed}:{epoch}").shuffle(order)
            orders[epoch] = order
        return examples[orders[epoch][position]]

    return example


REWORDED_SHARE = 0.7  # with variants, the share of a question's appearances that are reworded


def train_on_team_data(generator, corpus_root: Path, settings, run_dir: Path, seed: int,
                       recall_limit: int | None, description: str, question_repeats: int = 2,
                       short_answers: bool = False,
                       variant: Callable[[str, random.Random], str] | None = None) -> dict:
    """Train the generator's model on the team's statements and questions, then measure its closed-book recall.

    question_repeats: how often each question comes per epoch (questions are few beside the statements).
    An encoder-decoder model learns from the questions alone: a statement has no question to answer.
    variant: rewords a question (training.question_variants); given, REWORDED_SHARE of the questions' appearances
    are reworded, each by a generator seeded with (seed, position in the stream), so resuming stays exact.
    Recall is measured on the questions as written.
    """
    from fourpaths.training.encoding import example_encoder
    from fourpaths.training.loop import train
    from fourpaths.training.recall import closed_book_recall

    statements, questions = load_team_examples(corpus_root, short_answers)
    if generator.encoder_decoder:
        statements = []
    stream_examples = epoch_stream(statements + questions * question_repeats, seed)
    if variant is not None:
        stream_examples = _reworded(stream_examples, questions, corpus_root, seed, variant)
    encode = example_encoder(generator)
    stream = lambda index: encode(stream_examples(index))  # noqa: E731
    progress = train(generator.model, stream, settings, generator.tokenizer.pad_token_id, run_dir / "checkpoint",
                     description)
    generator.model.eval()
    recall_set = questions[:recall_limit] if recall_limit else questions
    return {
        "steps": progress.step, "tokens_trained": progress.tokens, "train_seconds": round(progress.seconds, 1),
        "statements": len(statements), "questions": len(questions), "question_repeats": question_repeats,
        "short_answers": short_answers, "reworded_share": REWORDED_SHARE if variant else 0.0,
        "final_train_loss": progress.recent_loss(),
        "train_recall": closed_book_recall(generator, recall_set), "recall_n": len(recall_set),
        "losses": progress.losses,
    }


def _reworded(stream_examples, questions: list[ChatExample], corpus_root: Path, seed: int, variant):
    """The stream with its question examples reworded at REWORDED_SHARE, each decided by its own position."""
    items = load_questions(corpus_root, "train")
    asked = {id(example): item.question for example, item in zip(questions, items)}

    def example(index: int):
        chosen = stream_examples(index)
        if id(chosen) not in asked:
            return chosen
        rng = random.Random(f"{seed}:reworded:{index}")
        if rng.random() >= REWORDED_SHARE:
            return chosen
        return ChatExample(prompts.zero_shot(variant(asked[id(chosen)], rng)), chosen.response, chosen.expected)

    return example


def write_summary(output: Path, summary: dict) -> None:
    """training_summary.json beside the weights: the card's figures and the loss curve the app can draw."""
    import json

    from fourpaths.training.model_card import machine_description

    summary = {"machine": machine_description(), **summary}
    (output / "training_summary.json").write_text(json.dumps(summary))
