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


def test_generation_batches_are_as_equal_as_possible():
    """111 messages in batches of at most 48: three batches of 37, not 48 + 48 + 15 (a short last batch costs a
    whole batch's decoding steps for few messages)."""
    model = FixedModel()
    replies = evaluation.generate_replies(model, EchoTokenizer(), ["a"] * 111, max_new_tokens=1, progress=False)
    assert len(replies) == 111 and [shape[0] for shape in model.calls] == [37, 37, 37]
    model.calls.clear()
    evaluation.generate_replies(model, EchoTokenizer(), ["a"] * 5, max_new_tokens=1, batch_size=2, progress=False)
    assert [shape[0] for shape in model.calls] == [2, 1, 2]


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


def test_chrf_interval_brackets_the_score_and_shrinks_with_agreement():
    references = [f"message number {i} is about the quarterly report" for i in range(30)]
    noisy = [r if i % 3 else "something else entirely" for i, r in enumerate(references)]
    score, interval = evaluation.chrf_interval(noisy, references, resamples=200)
    assert score == pytest.approx(evaluation.chrf(noisy, references))
    assert interval > 0
    assert evaluation.chrf_interval(references, references, resamples=200) == (pytest.approx(100.0), 0.0)


def test_paired_test_tells_a_consistent_gain_from_chance():
    references = [f"message number {i} is about the quarterly report" for i in range(30)]
    worse = [f"msg {i} quarterly rpt" for i in range(30)]
    better_everywhere = [f"message number {i} is about the report" for i in range(30)]
    one_better = [references[0], *worse[1:]]  # the same as the baseline but for one message
    p = evaluation.paired_p_values({"worse": worse, "better": better_everywhere, "one better": one_better},
                                   references, baseline="worse", resamples=200)
    assert list(p) == ["better", "one better"]
    assert p["better"] == pytest.approx(1 / 201)  # no resample comes near: the smallest p 200 resamples give
    assert p["one better"] > 0.05


def test_paired_test_names_what_is_wrong():
    with pytest.raises(ValueError, match="baseline 'copy'"):
        evaluation.paired_p_values({"a": ["x"], "b": ["y"]}, ["z"], baseline="copy")
    with pytest.raises(ValueError, match="'b' has 2 replies"):
        evaluation.paired_p_values({"a": ["x"], "b": ["y", "y"]}, ["z"], baseline="a")


ROWS = [
    {"casual": "gonna miss the 3pm w/ Priya", "corporate": "I will miss the 3 PM meeting with Priya."},
    {"casual": "lol that demo was great", "corporate": "That demo was excellent."},
]


def test_lens_scores_of_copying_the_input():
    scores = evaluation.lens_scores([row["casual"] for row in ROWS], ROWS)
    assert scores["facts_kept"] == 1.0 and scores["on_task"] == 1.0 and scores["slang_free"] == 0.0
    assert 0 < scores["chrf"] < 100 and scores["chrf_ci"] >= 0


def test_lens_table_shows_perplexity_only_for_models():
    scores = {name: evaluation.lens_scores([row["corporate"] for row in ROWS], ROWS) for name in ("copy", "model")}
    table = evaluation.lens_table(scores, {"model": 0.0})
    assert list(table.index) == ["copy", "model"]
    assert table.loc["copy", "reference perplexity"] == "—" and table.loc["model", "reference perplexity"] == "1.00"
    assert table.loc["model", "slang-free"] == "100%"


@pytest.fixture(scope="module")
def tokenizer():
    from helpers import models

    return models.load_tokenizer("smollm2")


def test_reference_loss_counts_the_answer_tokens_of_each_pair_once(tokenizer):
    """Batched and right-padded, the loss equals the token-weighted mean of each pair scored alone."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    model = LlamaForCausalLM(config).eval()
    alone = [evaluation.reference_loss(model, tokenizer, [row]) for row in ROWS]
    answer_tokens = [len(tokenizer(row["corporate"])["input_ids"]) + 1 for row in ROWS]  # + the end-of-turn token
    expected = sum(loss * n for loss, n in zip(alone, answer_tokens, strict=True)) / sum(answer_tokens)
    assert evaluation.reference_loss(model, tokenizer, ROWS, batch_size=2) == pytest.approx(expected, rel=1e-4)
    assert all(loss > 5 for loss in alone), "a random model finds the references unlikely (ln 49152 is 10.8)"


def test_sign_test_by_hand():
    assert evaluation.sign_test_p(0, 0) == 1.0
    assert evaluation.sign_test_p(5, 0) == pytest.approx(2 / 32)  # five fair coins all landing one way, both tails
    assert evaluation.sign_test_p(0, 5) == evaluation.sign_test_p(5, 0)
    assert evaluation.sign_test_p(3, 3) == 1.0
    assert evaluation.sign_test_p(10, 1) == pytest.approx(2 * 12 / 2**11)
    with pytest.raises(ValueError, match="counts"):
        evaluation.sign_test_p(-1, 2)


def test_answer_logprobs_batched_equal_each_answer_scored_alone(tokenizer):
    """Lesson 08's log pi(answer | prompt), written for one answer, matches the batched, right-padded helper."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from helpers.data import prompt_messages

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    model = LlamaForCausalLM(config).eval()

    def one_answer(prompt: str, answer: str) -> float:
        messages = prompt_messages(prompt)
        start = len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])
        ids = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}],
                                            return_tensors="pt", return_dict=True)["input_ids"]
        with torch.inference_mode():
            logprobs = model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
        return logprobs[start - 1 :].gather(-1, ids[0, start:, None]).sum().item()

    prompts = [row["casual"] for row in ROWS]
    answers = [row["corporate"] for row in ROWS]
    expected = [one_answer(p, a) for p, a in zip(prompts, answers, strict=True)]
    batched = evaluation.answer_logprobs(model, tokenizer, prompts, answers, batch_size=2)
    assert batched == pytest.approx(expected, rel=1e-4)
    assert all(value < -20 for value in batched), "a random model finds every answer unlikely"
    with pytest.raises(ValueError, match="one answer per prompt"):
        evaluation.answer_logprobs(model, tokenizer, prompts, answers[:1])
