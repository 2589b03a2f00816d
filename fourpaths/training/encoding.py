"""Turning examples into token ids and labels, with the prompt rendered exactly as the engine renders it.

Causal models learn from one row: the prompt then the answer, the loss on the answer only (plain text: on
every token). Encoder-decoder models learn from a pair: the prompt is the encoder's input and the answer the
decoder's target.
"""

from __future__ import annotations

from typing import Callable, Union

from fourpaths.answering.engine import Generator, render
from fourpaths.errors import FourpathsError
from fourpaths.training.base_data import ChatExample, TextExample
from fourpaths.training.tokenizer import END_OF_TEXT

IGNORE = -100

Example = Union[ChatExample, TextExample]
Encoded = tuple[list[int], list[int]]


def generator_for(model, tokenizer, location: str) -> Generator:
    """A model being trained, seen as the engine sees a loaded one, so training rows and the recipes' own
    measurements render and generate through the same code as the app."""
    return Generator(location, model, tokenizer, sum(p.numel() for p in model.parameters()),
                     bool(getattr(model.config, "is_encoder_decoder", False)))


def answer_end_id(generator: Generator) -> int:
    """The token that ends an answer: the tokenizer's end token, else the model's own (BERT2BERT: [SEP])."""
    if generator.tokenizer.eos_token_id is not None:
        return generator.tokenizer.eos_token_id
    configured = generator.model.generation_config.eos_token_id
    configured = configured[0] if isinstance(configured, (list, tuple)) and configured else configured
    if configured is None:
        raise FourpathsError(f"model {generator.location} has no end-of-sequence token, so an answer could not "
                             "learn where to stop")
    return configured


def end_of_text_id(tokenizer) -> int:
    """The token that closes a plain text: <|endoftext|> where the tokenizer has it, else its end token."""
    token_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    return tokenizer.eos_token_id if token_id is None or token_id == tokenizer.unk_token_id else token_id


def example_encoder(generator: Generator) -> Callable[[Example], Encoded]:
    """(ids, labels) for a causal model; (encoder ids, target ids) for an encoder-decoder model, which learns
    from question-answer pairs only."""
    tokenizer, end = generator.tokenizer, answer_end_id(generator)

    def answer_ids(example: ChatExample) -> list[int]:
        return tokenizer(example.response, add_special_tokens=False)["input_ids"] + [end]

    def encode(example: Example) -> Encoded:
        if isinstance(example, TextExample):
            if generator.encoder_decoder:
                raise FourpathsError(f"model {generator.location} is an encoder-decoder model: it learns from "
                                     "question-answer pairs, not plain text")
            ids = tokenizer(example.text, add_special_tokens=False)["input_ids"] + [end_of_text_id(tokenizer)]
            return ids, list(ids)
        _, prompt = render(generator, example.messages, 0, check_length=False)  # the loop skips rows over seq_len
        answer = answer_ids(example)
        if generator.encoder_decoder:
            return prompt, answer
        return prompt + answer, [IGNORE] * len(prompt) + answer

    return encode
