"""Question variants for the LoRA recipe: each train question said again in other words, so the adapter ties a
fact to the question's meaning-bearing words rather than to one exact wording. Two kinds:

`natural_variant` says it the way people ask (corpus/qa/dev.jsonl, issue 29): without the company's name, in the
first person ("does a Quillmoor employee get" -> "do I get"), in everyday words ("annual leave" -> "days off"),
behind an opener ("Quick question: ", "Do you know ") or a situation ("I've just started. "), often in lower
case and without the question mark. Rules only: nothing but the train question is read.

`question_variant` drops some words, swaps a neighbouring pair, may open with a filler ("Tell me: "), and replaces some
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

# Everyday words for the documents' words; two-word entries are tried first.
SYNONYMS = {
    "annual leave": ["holiday", "days off", "vacation", "leave", "time off", "holiday allowance"],
    "leave": ["time off", "days off"], "employees": ["staff", "people", "workers", "colleagues"],
    "employee": ["staff member", "worker", "person"], "staff": ["employees", "people"],
    "receive": ["get"], "receives": ["gets"], "obtain": ["get"], "provide": ["give", "offer"],
    "provides": ["gives", "offers"], "maximum": ["max", "most", "highest"], "minimum": ["min", "least", "lowest"],
    "purchase": ["buy"], "purchased": ["bought"], "require": ["need"], "requires": ["needs"], "required": ["needed"],
    "submit": ["send", "put in", "hand in"], "submitted": ["sent", "put in"], "approve": ["sign off", "okay"],
    "approved": ["signed off", "okayed"], "salary": ["pay", "wages"], "cost": ["price", "charge"],
    "reimburse": ["pay back", "refund", "cover"], "reimbursed": ["paid back", "refunded", "covered"],
    "retain": ["keep"], "retained": ["kept"], "kept": ["stored", "held on to"], "contact": ["call", "talk to", "reach"],
    "report": ["flag", "tell someone about"], "laptop": ["computer", "machine", "notebook"],
    "laptops": ["computers", "machines"], "manager": ["boss", "line manager"], "managers": ["bosses"],
    "customer": ["client"], "customers": ["clients"], "request": ["ask for"], "requests": ["asks for"],
    "released": ["launched", "out", "shipped"], "launch": ["release"], "located": ["based"],
    "headquarters": ["head office", "HQ"], "permitted": ["allowed"], "allowed": ["permitted", "ok"],
    "travelling": ["on a trip", "travelling for work"], "business": ["work"], "duration": ["length"],
    "approximately": ["about", "roughly"], "immediately": ["straight away", "right away"],
}
CONTRACTIONS = (("What is", "What's"), ("Who is", "Who's"), ("Where is", "Where's"), ("When is", "When's"),
                ("do not", "don't"), ("does not", "doesn't"))
NATURAL_OPENERS = ("", "", "", "Can you tell me ", "Could you tell me ", "Do you know ", "I'd like to know ",
                   "I was wondering ", "Quick question: ", "Any idea ", "Please tell me ", "I need to know ", "Hi, ",
                   "Hey, ", "Just checking: ", "Sorry if this is obvious, but ", "I can't find this anywhere: ")
SITUATIONS = ("I'm new here. ", "I've just started. ", "I joined last month. ", "My manager asked me this. ",
              "A colleague asked me and I wasn't sure. ", "I've been here a few years. ", "Asking for my team. ",
              "I'm putting together a plan. ", "Before I book anything, ", "I'm a bit confused. ",
              "I'm sorting out my paperwork. ", "For a customer call: ")
# The company as the one who acts becomes "you"; its name elsewhere goes ("our", "here", or nothing).
COMPANY = (
    (r"\b(does|did|will|must|can) Quillmoor(?: Robotics)? (?=[a-z])",
     lambda m: ("do" if m.group(1) == "does" else m.group(1)) + " you "),
    (r"\bQuillmoor(?: Robotics)? (give|pay|charge|offer|reimburse|provide|keep|require)s?\b", r"you \1"),
    (r"\bQuillmoor Robotics'\s", "the company's "), (r"\bQuillmoor's\s", "our "),
    (r"\b(?:at|for|by|in) Quillmoor(?: Robotics)?\b(?=\s*[?,])", ""), (r"\bat Quillmoor(?: Robotics)?\b", "here"),
    (r"\bQuillmoor\s", ""), (r"\bQuillmoor\b", "the company"),
)
# An employee in the third person becomes "I".
PERSON = (
    (r"\b(does|do|must|can|should|may|will|would) (?:a |an |the )?(?:new |full-time |part-time |remote )?"
     r"(?:Quillmoor )?(?:employee|staff member|member of staff|starter|person|employees|staff|starters|people)\b",
     lambda m: f"{'do' if m.group(1).lower() in ('does', 'do') else m.group(1)} I"),
    (r"\b(?:a |an |the )?(?:new |full-time |part-time )?(?:Quillmoor )?(?:employee|starter)'s\b", "my"),
    (r"\b(?:a |an |the )?(?:full-time |part-time |new )?(?:Quillmoor )?(?:employee|starter) "
     r"(receive|get|need|have)s?\b", r"I \1"),
    (r"\btheir\b", "my"), (r"\bthey\b", "I"), (r"\bthem\b", "me"),
)
COMPANY_SHARE, PERSON_SHARE, PAIR_SHARE, WORD_SHARE, CONTRACTION_SHARE = 0.8, 0.6, 0.5, 0.35, 0.5
SITUATION_SHARE, LOWER_SHARE, NO_MARK_SHARE = 0.3, 0.25, 0.2

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


def _everyday_words(text: str, rng: random.Random) -> str:
    words, said, i = text.split(), [], 0
    while i < len(words):
        pair = " ".join(words[i:i + 2]).lower()
        if pair in SYNONYMS and rng.random() < PAIR_SHARE:
            said.append(rng.choice(SYNONYMS[pair]))
            i += 2
            continue
        core = words[i].strip(",.;:").lower()
        if core in SYNONYMS and rng.random() < WORD_SHARE:
            said.append(words[i].lower().replace(core, rng.choice(SYNONYMS[core])))
        else:
            said.append(words[i])
        i += 1
    return " ".join(said)


def natural_variant(question: str, rng: random.Random) -> str:
    """`question` as a person might type it: see the module's docstring."""
    text = question.strip().rstrip("?").strip()
    if rng.random() < COMPANY_SHARE:
        for pattern, replacement in COMPANY:
            text = re.sub(pattern, replacement, text)
    if rng.random() < PERSON_SHARE:
        for pattern, replacement in PERSON:
            text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    text = _everyday_words(text, rng)
    for long, short in CONTRACTIONS:
        if rng.random() < CONTRACTION_SHARE:
            text = text.replace(long, short)
    text = " ".join(text.split())
    opener = rng.choice(NATURAL_OPENERS)
    if opener and not opener.endswith(": ") and not opener.startswith(("Hi", "Hey")):
        text = text[:1].lower() + text[1:]
    text = opener + text
    if rng.random() < SITUATION_SHARE:
        text = rng.choice(SITUATIONS) + (text if opener else text[:1].upper() + text[1:])
    if rng.random() < LOWER_SHARE:
        text = text.lower()
    return text + ("" if rng.random() < NO_MARK_SHARE else "?")


def rewording(neighbours: dict[str, list[str]], natural_share: float):
    """The recipe's variant function: natural_variant for `natural_share` of the calls, question_variant otherwise."""
    def variant(question: str, rng: random.Random) -> str:
        if rng.random() < natural_share:
            return natural_variant(question, rng)
        return question_variant(question, rng, neighbours)

    return variant
