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


def test_chrf_is_sacrebleu_chrf():
    import sacrebleu

    hyps, refs = ["I cannot do that.", "Thanks a lot"], ["I am unable to do that.", "Thank you very much"]
    assert evaluation.chrf(hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert evaluation.chrf(refs, refs) == pytest.approx(100.0)
    assert evaluation.sentence_chrf("abc", "xyz") < 10


def test_chrf_needs_matching_lengths():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        evaluation.chrf(["a", "b"], ["a"])
