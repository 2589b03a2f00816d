"""Question variants for the LoRA recipe: each train question said again in other words, so the adapter ties a
fact to the question's meaning-bearing words rather than to one exact wording.

A variant drops some words, swaps a neighbouring pair, may open with a filler ("Tell me: "), and replaces some
words with one of their nearest neighbours in the shipped embedder's word-embedding table (all-MiniLM-L6-v2:
"staff" -> "employees", "annual" -> "yearly", "purchase" -> "buy"; also "holiday" -> "christmas" now and
then, which is noise a variant can afford). Only the train questions are varied; the evaluation sets are
never read.

Measured on the shipped base (eval_seen holds paraphrases of the train questions): 600 steps without variants
gave eval_seen 0.03 and closed-book recall 85%; 600 steps with variants but no neighbour words 0.08 and 72%;
900 steps with the full variants 0.10 and 97%.
"""

from __future__ import annotations

import random
import re
from typing import Iterable

STOP_WORDS = frozenset(
    "what which when where who whom whose how many much does do did is are was were the and for from with that "
    "this into about their there they them your have has can could would should will must each every other "
    "than then also only after before over under between".split())
NEIGHBOURS_PER_WORD = 3
MIN_NEIGHBOUR_COSINE = 0.45  # below it, neighbours are mostly unrelated words
OPENERS = ("", "Tell me: ", "Quick question: ", "Do you know ", "Please answer: ")
DROP_SHARE, NEIGHBOUR_SHARE, SWAP_SHARE = 0.15, 0.3, 0.3


def variable_words(questions: Iterable[str]) -> set[str]:
    """The lowercase content words of the questions: the ones a variant may replace."""
    return {word for question in questions for word in re.findall(r"[A-Za-z]+", question)
            if word.islower() and len(word) > 3 and word not in STOP_WORDS}


def word_neighbours(words: Iterable[str], embedder_location: str) -> dict[str, list[str]]:
    """Each word's nearest whole words in the embedder's input word-embedding table (cosine), where near enough.

    The table is the transformer's own first layer: no sentence is embedded, and no other model is needed."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedder_location)
    model = AutoModel.from_pretrained(embedder_location, use_safetensors=True)
    return neighbours_in_table(words, model.get_input_embeddings().weight.detach(), tokenizer.get_vocab())


def neighbours_in_table(words: Iterable[str], table, vocabulary: dict[str, int]) -> dict[str, list[str]]:
    """word_neighbours over a word-embedding table already loaded (rows by token id): every word against the
    whole words of the vocabulary in one matrix product per block of words (word by word took 15 s)."""
    import torch

    spelled = {index: token for token, index in vocabulary.items()}
    candidates = torch.tensor([i for i in range(len(spelled)) if spelled[i].isalpha() and len(spelled[i]) > 2])
    unit = torch.nn.functional.normalize(table[candidates].float(), dim=1)
    asked = sorted(word for word in set(words) if word in vocabulary)
    neighbours: dict[str, list[str]] = {}
    for start in range(0, len(asked), 256):  # a block's cosines: 256 x ~20,000 floats
        block = asked[start:start + 256]
        ids = torch.tensor([vocabulary[word] for word in block])
        cosines = torch.nn.functional.normalize(table[ids].float(), dim=1) @ unit.T
        cosines[candidates.unsqueeze(0) == ids.unsqueeze(1)] = -1.0  # not the word itself
        values, indices = cosines.topk(NEIGHBOURS_PER_WORD, dim=1)
        for word, row_values, row_indices in zip(block, values.tolist(), indices.tolist()):
            near = [spelled[int(candidates[i])] for value, i in zip(row_values, row_indices)
                    if value > MIN_NEIGHBOUR_COSINE]
            if near:
                neighbours[word] = near
    return neighbours


def question_variant(question: str, rng: random.Random, neighbours: dict[str, list[str]]) -> str:
    """`question` said again: some words dropped or replaced by a neighbour, maybe a pair swapped and an opener."""
    words = question.rstrip("?").split()
    varied = []
    for word in words:
        if len(words) > 4 and rng.random() < DROP_SHARE:
            continue
        core = word.strip(",.;:'\"")
        if core in neighbours and rng.random() < NEIGHBOUR_SHARE:
            word = word.replace(core, rng.choice(neighbours[core]))
        varied.append(word)
    if len(varied) > 3 and rng.random() < SWAP_SHARE:
        position = rng.randrange(len(varied) - 1)
        varied[position], varied[position + 1] = varied[position + 1], varied[position]
    return rng.choice(OPENERS) + " ".join(varied) + "?"
