"""Greedy answers for the recipes' own measurements (held-out reading set, closed-book recall)."""

from __future__ import annotations

import torch


@torch.inference_mode()
def greedy_answer(model, tokenizer, messages: list[dict[str, str]], max_new_tokens: int = 48,
                  answer_start: str = "") -> str:
    """The greedy answer; `answer_start` is text the answer is forced to begin with (not returned)."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + answer_start
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                            do_sample=False, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True).strip()
