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
DISTANT_OFFSET = 8_000_000_000
LONGEST_DISTANT, WIDEST_GAP = 60, 500


def repeated_tokens(seed: int, index: int, separator_id: int, first_id: int, vocab_size: int):
    """Example `index`: separator, a random string, separator, the same string; loss on the repeat only."""
    rng = random.Random(f"{seed}:{index + INDUCTION_OFFSET}")
    length = rng.randint(SHORTEST, LONGEST)
    string = [rng.randrange(first_id, vocab_size) for _ in range(length)]
    ids = [separator_id, *string, separator_id, *string]
    return ids, [IGNORE] * (length + 2) + string


def distant_repeat(seed: int, index: int, separator_id: int, first_id: int, vocab_size: int):
    """Half the time a short string said twice as above; else a longer one said again after up to 500 other ids.

    Measured: a model trained on adjacent repeats of 10-30 ids copied them (loss 1.9) but not text strings of
    40-120 tokens (loss 11.6, worse than chance): its copying head only looked about 30 tokens back. An answer
    line sits several hundred tokens before the answer in a reading prompt, so the copy must reach that far.
    """
    rng = random.Random(f"{seed}:{index + DISTANT_OFFSET}")
    if rng.random() < 0.5:
        return repeated_tokens(seed, index, separator_id, first_id, vocab_size)
    length, gap = rng.randint(SHORTEST, LONGEST_DISTANT), rng.randint(0, WIDEST_GAP)
    string = [rng.randrange(first_id, vocab_size) for _ in range(length)]
    filler = [rng.randrange(first_id, vocab_size) for _ in range(gap)]
    ids = [separator_id, *string, *filler, separator_id, *string]
    return ids, [IGNORE] * (length + gap + 2) + string
