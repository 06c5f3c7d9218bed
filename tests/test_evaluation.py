import pytest
import torch

from helpers import evaluation


class EchoTokenizer:
    """Minimal stand-in with the chat-template API, so generation plumbing is tested without a model."""

    padding_side = "left"
    pad_token_id = 0

    def apply_chat_template(self, conversations, **kwargs):
        assert kwargs["padding"] and kwargs["return_dict"] and kwargs["add_generation_prompt"]
        lengths = [len(c[-1]["content"]) for c in conversations]
        width = max(lengths)
        ids = torch.tensor([[0] * (width - n) + [1] * n for n in lengths])
        from transformers import BatchEncoding

        return BatchEncoding({"input_ids": ids, "attention_mask": (ids != 0).long()})

    def batch_decode(self, tokens, skip_special_tokens):
        return [f" reply of {len(row)} tokens " for row in tokens]


class FixedModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.calls = []

    def generate(self, input_ids, attention_mask, max_new_tokens, do_sample, pad_token_id):
        self.calls.append(input_ids.shape)
        assert do_sample is False
        return torch.cat([input_ids, torch.full((input_ids.shape[0], max_new_tokens), 5)], dim=1)


def test_generate_replies_batches_and_strips_prompt():
    model = FixedModel()
    replies = evaluation.generate_replies(model, EchoTokenizer(), ["a", "bbb", "cc"], max_new_tokens=3, batch_size=2)
    assert replies == ["reply of 3 tokens"] * 3
    assert [shape[0] for shape in model.calls] == [2, 1]


def test_generation_needs_left_padding():
    tokenizer = EchoTokenizer()
    tokenizer.padding_side = "right"
    with pytest.raises(ValueError, match="padding_side"):
        evaluation.generate_replies(FixedModel(), tokenizer, ["a"])


def test_chrf_by_hand():
    """chrF: character n-gram precision P and recall R, each averaged over the orders 1-6 that both texts have,
    then F-beta = (1 + b²)·P·R / (b²·P + R) with b = 2 (recall counts 4x)."""
    # 8 characters, the last one differs: of the 9 - n n-grams of order n, the 8 - n that avoid it match,
    # so P = R = F = mean of (8 - n) / (9 - n).
    expected = 100 * sum((8 - n) / (9 - n) for n in range(1, 7)) / 6
    assert evaluation.chrf(["abcdefgh"], ["abcdefgx"]) == pytest.approx(expected)
    # "ab" against "abc": unigrams P = 1, R = 2/3; bigrams P = 1, R = 1/2; "ab" has no trigram.
    precision, recall = (1 + 1) / 2, (2 / 3 + 1 / 2) / 2
    assert evaluation.chrf(["ab"], ["abc"]) == pytest.approx(100 * 5 * precision * recall / (4 * precision + recall))
    assert evaluation.chrf(["a b"], ["ab"]) == pytest.approx(100.0), "spaces are ignored"


def test_chrf_pools_the_corpus_before_scoring():
    """Not the mean of sentence scores (25 and 100): the n-gram counts of all messages are added up first."""
    assert evaluation.sentence_chrf("aa", "ab") == pytest.approx(25.0)
    # unigrams: 2 of 3 match; bigrams: "aa" vs "ab" none (the single "x" has no bigram)
    assert evaluation.chrf(["aa", "x"], ["ab", "x"]) == pytest.approx(100 * (2 / 3 + 0) / 2)


def test_chrf_needs_matching_lengths():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        evaluation.chrf(["a", "b"], ["a"])
