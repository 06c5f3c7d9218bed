"""Ask the model for translations and score them against the references.

Generation is greedy and batched with left padding (one prompt at a time took ~2.6 s on the
course CPU). Scores use chrF from sacrebleu, a standard character n-gram metric that is
forgiving to small wording changes. Lesson 04.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch

from helpers import style
from helpers.console import progress_bar
from helpers.data import prompt_messages
from helpers.memory import release_memory


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
    batch_size: int = 48,
    progress: bool = True,
) -> list[str]:
    """Greedy replies of ``model`` to each casual text (system prompt from ``helpers.data``).

    The texts go in batches of at most ``batch_size``, as equal as possible (111 messages: 37 + 37 + 37).
    Each decoding step costs nearly the same for one message or 48 on a CPU (a 4-bit layer is
    de-quantized once per step, whatever the batch), so large batches are faster: 48 took 0.7x the time
    of 16 on the course CPU, for ~0.1 GB more memory, which is handed back to the system at the end.
    """
    if tokenizer.padding_side != "left":
        raise ValueError(
            "batched generation needs tokenizer.padding_side == 'left' (helpers.models.load_tokenizer sets it)"
        )
    device = next(model.parameters()).device
    n_batches = max(1, -(-len(casual_texts) // batch_size))
    bounds = [round(i * len(casual_texts) / n_batches) for i in range(n_batches + 1)]
    replies: list[str] = []
    for start, end in progress_bar(list(itertools.pairwise(bounds)), desc="generating", unit="batch",
                                   disable=not progress):
        inputs = chat_inputs(tokenizer, casual_texts[start:end], device)
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    release_memory()  # the key/value caches are freed; without this the process would keep their pages
    return replies


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus-level chrF (0-100) of ``hypotheses`` against one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score


def chrf_interval(
    hypotheses: Sequence[str], references: Sequence[str], *, resamples: int = 1000
) -> tuple[float, float]:
    """Corpus chrF and the half-width of its 95% bootstrap interval (sacrebleu resamples the messages).

    sacrebleu seeds its resampling (``SACREBLEU_SEED``, default 12345), so the interval is reproducible.
    """
    from sacrebleu.metrics import CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    score = CHRF().corpus_score(list(hypotheses), [list(references)], n_bootstrap=resamples)
    return score.score, float(score._ci)


def paired_p_values(
    systems: dict[str, Sequence[str]], references: Sequence[str], *, baseline: str, resamples: int = 1000
) -> dict[str, float]:
    """p-value of each system's chrF difference from ``baseline``, by sacrebleu's paired bootstrap test.

    Both systems answered the same messages, so each resample draws the same messages for both: a
    difference that two separate intervals cannot settle can still be told apart from chance. p is the
    share of resamples whose difference strays at least as far from the mean as the measured one, at
    least 1 / (resamples + 1). Seeded like ``chrf_interval``.
    """
    from sacrebleu.metrics import CHRF
    from sacrebleu.significance import PairedTest

    if baseline not in systems:
        raise ValueError(f"baseline {baseline!r} is not one of the systems {sorted(systems)}")
    for name, hypotheses in systems.items():
        if len(hypotheses) != len(references):
            raise ValueError(f"{name!r} has {len(hypotheses)} replies but there are {len(references)} references")
    others = [name for name in systems if name != baseline]
    named = [(name, list(systems[name])) for name in [baseline, *others]]
    _, results = PairedTest(named, {"chrF": CHRF()}, [list(references)], test_type="bs", n_samples=resamples)()
    (per_system,) = (value for key, value in results.items() if key != "System")
    return {name: float(result.p_value) for name, result in zip(others, per_system[1:], strict=True)}


def _answer_token_ids(
    tokenizer: Any, prompt: list[dict[str, str]], answer: str, *, through_end_of_turn: bool
) -> tuple[list[int], int]:
    """The chat-templated conversation's token ids and where the answer starts (the prompt's length).

    ``through_end_of_turn`` cuts the ids after the end-of-turn token (what training scores); otherwise they run
    to the end of the template's text.
    """
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)["input_ids"]
    conversation = [*prompt, {"role": "assistant", "content": answer}]
    full_ids = tokenizer.apply_chat_template(conversation, return_dict=True)["input_ids"]
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template does not extend the prompt with the answer")
    if through_end_of_turn:
        end_of_turn = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
        full_ids = full_ids[: len(full_ids) - full_ids[::-1].index(end_of_turn)]
    return full_ids, len(prompt_ids)


@torch.inference_mode()
def _answer_nll(
    model: Any, tokenizer: Any, conversations: Sequence[tuple[list[dict[str, str]], str]], *, batch_size: int,
    through_end_of_turn: bool,
) -> list[tuple[float, int]]:
    """For each (prompt messages, answer): the answer tokens' summed negative log-likelihood, and their count.

    Sequences are right-padded so every real token keeps the position it has in a single-sequence forward pass.
    """
    device = next(model.parameters()).device
    results: list[tuple[float, int]] = []
    for start in range(0, len(conversations), batch_size):
        encoded = [_answer_token_ids(tokenizer, prompt, answer, through_end_of_turn=through_end_of_turn)
                   for prompt, answer in conversations[start : start + batch_size]]
        width = max(len(ids) for ids, _ in encoded)
        input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        answer = torch.zeros_like(input_ids, dtype=torch.bool)
        for row, (ids, answer_start) in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            answer[row, answer_start : len(ids)] = True
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits.float()
        targets, scored = input_ids[:, 1:].to(device), answer[:, 1:].to(device)
        losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets, reduction="none")
        results += [(float(row_losses[row_scored].sum()), int(row_scored.sum()))
                    for row_losses, row_scored in zip(losses, scored, strict=True)]
        del logits, losses
    release_memory()
    return results


def reference_loss(model: Any, tokenizer: Any, pairs: Sequence[dict[str, str]], *, batch_size: int = 4) -> float:
    """Mean loss per token of each corporate reference given its prompt: what training minimises, on held-out pairs.

    ``exp`` of it is the reference's perplexity. Only the answer tokens (and the end-of-turn token) count,
    exactly as in training. Small batches: a forward pass holds batch x length x vocabulary logits
    (16 x 80 x 49,152 floats are 250 MB), and 4 took about as long as 16 on the course CPU.
    """
    conversations = [(prompt_messages(row["casual"]), row["corporate"]) for row in pairs]
    scored = _answer_nll(model, tokenizer, conversations, batch_size=batch_size, through_end_of_turn=True)
    return sum(nll for nll, _ in scored) / sum(count for _, count in scored)


def answer_logprobs(
    model: Any, tokenizer: Any, prompts: Sequence[str], answers: Sequence[str], *, batch_size: int = 8
) -> list[float]:
    """log pi(answer | prompt) for each pair: the answer's token log-probabilities after the chat prompt, summed.

    The tokens run to the end of the chat template's text, as in lesson 08's one-answer version; batched (right
    padding), so the 90 answers of lesson 08's held-out triples take one forward pass per ``batch_size``.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers: give one answer per prompt")
    conversations = [(prompt_messages(p), a) for p, a in zip(prompts, answers, strict=True)]
    scored = _answer_nll(model, tokenizer, conversations, batch_size=batch_size, through_end_of_turn=False)
    return [-nll for nll, _ in scored]


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF of one reply against its reference (for before/after tables)."""
    import sacrebleu

    return sacrebleu.sentence_chrf(hypothesis, [reference]).score


def lens_scores(replies: Sequence[str], pairs: Sequence[dict[str, str]]) -> dict[str, float]:
    """Every text lens for one system's replies: chrF (with its 95% interval), slang-free, on-task, facts kept.

    ``pairs`` are the held-out rows (``casual``, ``corporate``) the replies answer, in order. Shares are 0-1.
    """
    pairs = list(pairs)
    references = [row["corporate"] for row in pairs]
    score, interval = chrf_interval(replies, references)
    return {
        "chrf": score,
        "chrf_ci": interval,
        "slang_free": style.share(style.is_slang_free(reply) for reply in replies),
        "on_task": style.share(style.stays_on_task(r, ref) for r, ref in zip(replies, references, strict=True)),
        "facts_kept": style.share(
            style.keeps_facts(row["casual"], reply) for row, reply in zip(pairs, replies, strict=True)
        ),
    }


def lens_table(scores: dict[str, dict[str, float]], reference_losses: dict[str, float] | None = None) -> Any:
    """One row per system (copy the input, base model, fine-tuned...) and one column per lens, ready to display.

    ``scores`` maps a system's name to :func:`lens_scores`; ``reference_losses`` maps model names to
    :func:`reference_loss` (shown as perplexity; "—" for a system that is not a model).
    """
    import math

    import pandas as pd

    reference_losses = reference_losses or {}
    rows = {
        name: {
            "chrF": f"{s['chrf']:.1f} ± {s['chrf_ci']:.1f}",
            "reference perplexity": f"{math.exp(reference_losses[name]):.2f}" if name in reference_losses else "—",
            "slang-free": f"{s['slang_free']:.0%}",
            "on task": f"{s['on_task']:.0%}",
            "facts kept": f"{s['facts_kept']:.0%}",
        }
        for name, s in scores.items()
    }
    return pd.DataFrame(rows).T


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test (McNemar's exact test) for paired yes/no outcomes.

    ``wins``: items only the new system gets right; ``losses``: items only the old one gets right (items both get
    right or both wrong say nothing about the difference). Under "no difference" each such item is a fair coin
    flip, so p is twice the binomial tail of the rarer outcome, at most 1. Lesson 08.
    """
    import math

    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses are counts, got wins={wins}, losses={losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)
