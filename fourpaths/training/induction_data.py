"""Random token strings said twice: the data of the base's first stage, which teaches it to copy.

Answering from passages means finding a span in the prompt and copying it token by token (an induction
circuit: one head marks what preceded each token, another looks up "what came after this last time").
In text most tokens can be guessed without copying, so pretraining on text alone never formed the circuit
here. In a random string nothing can be guessed on the second pass, so the only way down is to copy.
Token-level data: no text, no tokenizer round trip, every id of the vocabulary equally likely.
"""

from __future__ import annotations

import random

from fourpaths.training.encoding import IGNORE

SHORTEST, LONGEST = 10, 30
INDUCTION_OFFSET = 4_000_000_000  # its own stretch of seeds, apart from every other stage's
SPAN_OFFSET = 8_000_000_000
SHORTEST_SOURCE, LONGEST_SOURCE, WIDEST_GAP = 20, 200, 300
SHORTEST_SPAN, LONGEST_SPAN = 8, 60


def repeated_tokens(seed: int, index: int, separator_id: int, first_id: int, vocab_size: int):
    """Example `index`: separator, a random string, separator, the same string; loss on the repeat only."""
    rng = random.Random(f"{seed}:{index + INDUCTION_OFFSET}")
    length = rng.randint(SHORTEST, LONGEST)
    string = [rng.randrange(first_id, vocab_size) for _ in range(length)]
    ids = [separator_id, *string, separator_id, *string]
    return ids, [IGNORE] * (length + 2) + string


def repeated_span(seed: int, index: int, separator_id: int, first_id: int, vocab_size: int):
    """A quarter of the time a short string said twice as above; else a string of 20-200 ids, up to 300 other
    ids, then a span of 8-60 ids taken from anywhere in the string. The span's first id cannot be known; the
    rest is learnt.

    Measured on the reader preset's stage-1 model: it copied 20 ids at 1.0 nats a token but 60 at 12.7 and
    100 at 11.8 (2,000 steps of whole strings said again after a gap: 5.7 and 6.5), so it had learnt where the
    copy sits relative to the separator, not what came after the current id. A span from a random place
    leaves only the second way, which is what quoting an answer line from a passage needs.
    """
    rng = random.Random(f"{seed}:{index + SPAN_OFFSET}")
    if rng.random() < 0.25:
        return repeated_tokens(seed, index, separator_id, first_id, vocab_size)
    length, gap = rng.randint(SHORTEST_SOURCE, LONGEST_SOURCE), rng.randint(0, WIDEST_GAP)
    string = [rng.randrange(first_id, vocab_size) for _ in range(length)]
    filler = [rng.randrange(first_id, vocab_size) for _ in range(gap)]
    span_length = rng.randint(SHORTEST_SPAN, min(LONGEST_SPAN, length))
    start = rng.randint(0, length - span_length)
    span = string[start:start + span_length]
    ids = [separator_id, *string, *filler, separator_id, *span]
    return ids, [IGNORE] * (len(ids) - span_length + 1) + span[1:]
