"""Constraints on what a generated answer may say, as transformers LogitsProcessors."""

from __future__ import annotations

import threading

import torch
from transformers import LogitsProcessor

# Capitalised words that open ordinary sentences; any other capitalised word must come from the prompt.
SENTENCE_OPENERS = frozenset("I The It This That These A An Yes No Sorry There They We You Please If In On At For "
                             "Our Your Each Every All Not Step Answer Note To".split())

_capitalised: dict[int, torch.Tensor] = {}
_lock = threading.Lock()


def capitalised_token_ids(tokenizer) -> torch.Tensor:
    """Ids of the tokens that start a capitalised word (other than a sentence opener), found once per tokenizer."""
    key = id(tokenizer)
    with _lock:
        if key not in _capitalised:
            # Judged on each token's decoded text, not its vocabulary spelling: byte-level BPE spells a line
            # break "Ċ" and the first byte of "é" "Ã", capitals to str.isupper() that are no name.
            special = set(tokenizer.all_special_ids)
            vocabulary = list(range(len(tokenizer)))
            ids = []
            for token_id, text in zip(vocabulary, tokenizer.batch_decode([[i] for i in vocabulary])):
                word = text.strip()
                if word[:1].isupper() and word not in SENTENCE_OPENERS and token_id not in special:
                    ids.append(token_id)
            _capitalised[key] = torch.tensor(ids, dtype=torch.long)
        return _capitalised[key]


class NoNewNames(LogitsProcessor):
    """Forbids starting a capitalised word that the prompt does not contain, so a small base cannot answer with
    a name it made up: what it may name is in the question (or the examples and instructions around it)."""

    def __init__(self, tokenizer, prompt_ids: list[int]) -> None:
        candidates = capitalised_token_ids(tokenizer)
        in_prompt = torch.tensor(sorted(set(prompt_ids)), dtype=torch.long)
        self.banned = candidates[~torch.isin(candidates, in_prompt)]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.clone()
        scores[:, self.banned] = float("-inf")
        return scores
