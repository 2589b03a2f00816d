"""Text said again from anywhere: the copying data of the `from-encoder` stage.

Quoting an answer means copying a line that starts anywhere in the passages. Measured on the encoder turned
causal (all-MiniLM-L6-v2, 2 cores): trained on whole strings said twice, it copied them (0.32 nats a token
after 400 steps) but a span taken from the middle not at all (9.7): it had learnt where the copy sits
relative to the separator. Here every row is a text followed by several spans taken from random places in
it, so "what came after this token last time" is the only way to predict them.
"""

from __future__ import annotations

import random

from faker import Faker

from fourpaths.training import base_data
from fourpaths.training.encoding import IGNORE

COPY_OFFSET = 11_000_000_000  # its own stretch of seeds, apart from every other stage's
LONGEST_TEXT = 90  # tokens
SPANS_PER_ROW = 3
SHORTEST_SPAN, LONGEST_SPAN = 5, 15
_WORDS = Faker("en_US").get_words_list()


def _words(rng: random.Random) -> str:
    """Half the time unrelated words (nothing to guess, only to copy), else a stretch of a handbook text."""
    count = rng.randint(8, 40)
    if rng.random() < 0.5:
        return " ".join(rng.choice(_WORDS) for _ in range(count))
    words = base_data.document_example(rng).text.split()
    start = rng.randrange(max(1, len(words) - count))
    return " ".join(words[start:start + count])


def text_spans(tokenizer, seed: int, index: int) -> tuple[list[int], list[int]]:
    """Example `index`: a text, then SPANS_PER_ROW spans of it, each after a separator; each span is learnt
    after its first token (which cannot be known)."""
    rng = random.Random(f"{seed}:{index + COPY_OFFSET}")
    text = tokenizer(f"{_words(rng)} {_words(rng)}", add_special_tokens=False)["input_ids"][:LONGEST_TEXT]
    opener, separator = (tokenizer.eos_token_id if token is None else token
                         for token in (tokenizer.cls_token_id, tokenizer.sep_token_id))
    ids = [opener, *text]
    labels = [IGNORE] * len(ids)
    for _ in range(SPANS_PER_ROW):
        length = min(rng.randint(SHORTEST_SPAN, LONGEST_SPAN), len(text))
        start = rng.randrange(0, len(text) - length + 1)
        span = text[start:start + length]
        ids += [separator, *span]
        labels += [IGNORE, IGNORE, *span[1:]]
    return ids, labels
