"""Ask the model for translations and score them against the references.

Generation is greedy and batched with left padding (one prompt at a time took ~2.6 s on the
course CPU). Scores use chrF from sacrebleu, a standard character n-gram metric that is
forgiving to small wording changes. Lesson 04.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from helpers.data import prompt_messages


def chat_inputs(tokenizer: Any, casual_texts: Sequence[str], device: torch.device | str) -> Any:
    """Tokenise prompts with the chat template (left-padded), ready for ``model.generate(**inputs)``."""
    conversations = [prompt_messages(text) for text in casual_texts]
    inputs = tokenizer.apply_chat_template(
        conversations, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
    )
    return inputs.to(device)


@torch.inference_mode()
def generate_replies(
    model: Any,
    tokenizer: Any,
    casual_texts: Sequence[str],
    *,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    progress: bool = True,
) -> list[str]:
    """Greedy replies of ``model`` to each casual text (system prompt from ``helpers.data``)."""
    if tokenizer.padding_side != "left":
        raise ValueError(
            "batched generation needs tokenizer.padding_side == 'left' (helpers.models.load_tokenizer sets it)"
        )
    device = next(model.parameters()).device
    replies: list[str] = []
    batches = range(0, len(casual_texts), batch_size)
    for start in tqdm(batches, desc="generating", unit="batch", disable=not progress, leave=False):
        inputs = chat_inputs(tokenizer, casual_texts[start : start + batch_size], device)
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return replies


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus-level chrF (0-100) of ``hypotheses`` against one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF of one reply against its reference (for before/after tables)."""
    import sacrebleu

    return sacrebleu.sentence_chrf(hypothesis, [reference]).score
