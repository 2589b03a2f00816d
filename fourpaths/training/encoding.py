"""Turning examples into token ids and labels: the loss falls on answers, not on the prompts."""

from __future__ import annotations

from typing import Union

from fourpaths.prompts import render
from fourpaths.training.base_data import ChatExample, TextExample
from fourpaths.training.tokenizer import END_OF_TEXT

IGNORE = -100


def encode_chat(tokenizer, messages: list[dict[str, str]], response: str) -> tuple[list[int], list[int]]:
    """Prompt and answer tokenised apart, exactly as generation sees them: the prompt is encoded on its own."""
    _, prompt_ids = render(tokenizer, messages)
    answer_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids


def end_of_text_id(tokenizer) -> int:
    """The token that closes a plain text: our tokenizers' <|endoftext|>, else the tokenizer's own end token
    (a base started from a pretrained encoder has no <|endoftext|>; its [SEP] both ends texts and answers)."""
    token_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    return tokenizer.eos_token_id if token_id is None or token_id == tokenizer.unk_token_id else token_id


def encode_text(tokenizer, text: str) -> tuple[list[int], list[int]]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [end_of_text_id(tokenizer)]
    return ids, list(ids)


def encode(tokenizer, example: Union[ChatExample, TextExample]) -> tuple[list[int], list[int]]:
    if isinstance(example, ChatExample):
        return encode_chat(tokenizer, example.messages, example.response)
    return encode_text(tokenizer, example.text)
