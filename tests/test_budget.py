"""The memory budget: its arithmetic, and its activation list checked against what autograd really saves."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from helpers import budget, lora


def _config(layers: int) -> LlamaConfig:
    return LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=layers,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                       tie_word_embeddings=True)


def _saved_bytes(model: torch.nn.Module, batch: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd saves in one forward pass, weights excluded."""
    weights = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    saved: dict[int, int] = {}

    def keep(tensor):
        if tensor.untyped_storage().data_ptr() not in weights:
            saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        model(input_ids=batch, labels=batch)
    return sum(saved.values())


def _model(layers: int, method: str, dropout: float) -> torch.nn.Module:
    torch.manual_seed(0)
    model = LlamaForCausalLM(_config(layers))
    if method == "full":
        return model.train()
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules=targets)).train()


@pytest.mark.parametrize(("method", "dropout"), [("full", 0.0), ("lora", 0.0), ("lora", 0.1)])
def test_one_block_saves_what_the_formula_lists(method, dropout):
    """A block's share is the difference between a 3-block and a 2-block model: it must match to the byte."""
    batch = torch.randint(0, 96, (2, 16))
    per_block = _saved_bytes(_model(3, method, dropout), batch) - _saved_bytes(_model(2, method, dropout), batch)
    setup = budget.TrainingSetup(method, 2, 16, r=4, lora_dropout=dropout)
    assert budget.block_activation_bytes_per_token(_config(3), setup) * setup.tokens == per_block


def test_whole_model_activations_and_log_softmax_are_close():
    batch = torch.randint(0, 96, (2, 16))
    setup = budget.TrainingSetup("full", 2, 16)
    predicted = budget.activation_bytes(_config(2), setup) + setup.tokens * 96 * 4
    measured = _saved_bytes(_model(2, "full", 0.0), batch)
    assert predicted == pytest.approx(measured, rel=0.05)


def test_weights_gradients_and_adam_are_16_bytes_per_parameter_for_full_fp32(tiny_llama_config):
    terms = budget.predict_training_memory(tiny_llama_config, budget.TrainingSetup("full", 1, 8))
    params = lora.count_base_parameters(tiny_llama_config)
    assert terms["weights"] + terms["gradients"] + terms["optimizer states"] == 16 * params
    assert terms["LoRA weights"] == 0


def test_qlora_weights_are_nf4_linears_plus_the_rest(tiny_llama_config):
    setup = budget.TrainingSetup("qlora", 1, 8, compute_dtype="bfloat16")
    linear = budget.linear_parameters(tiny_llama_config)
    rest = lora.count_base_parameters(tiny_llama_config) - linear
    assert budget.weight_bytes(tiny_llama_config, setup) == pytest.approx(linear * 4.127 / 8 + rest * 2, rel=1e-3)
    trainable = lora.count_lora_parameters(16, "all-linear", tiny_llama_config)
    assert budget.predict_training_memory(tiny_llama_config, setup)["optimizer states"] == 8 * trainable


def test_checkpointing_dropout_and_8bit_adam_shrink_their_terms(tiny_llama_config):
    base = budget.TrainingSetup("qlora", 4, 64)
    checkpointed = budget.TrainingSetup("qlora", 4, 64, activation_checkpointing=True)
    dropout = budget.TrainingSetup("qlora", 4, 64, lora_dropout=0.1)
    assert budget.activation_bytes(tiny_llama_config, checkpointed) < budget.activation_bytes(tiny_llama_config, base)
    assert budget.activation_bytes(tiny_llama_config, dropout) > budget.activation_bytes(tiny_llama_config, base)
    full8 = budget.TrainingSetup("full", 4, 64, optimizer="adamw_8bit")
    full = budget.TrainingSetup("full", 4, 64)
    ratio = (budget.predict_training_memory(tiny_llama_config, full8)["optimizer states"]
             / budget.predict_training_memory(tiny_llama_config, full)["optimizer states"])
    assert ratio == pytest.approx((2 + 8 / 256) / 8)


def test_peak_never_exceeds_the_sum_of_terms_and_covers_resident_memory(tiny_llama_config):
    for method in budget.METHODS:
        setup = budget.TrainingSetup(method, 2, 32)
        terms = budget.predict_training_memory(tiny_llama_config, setup)
        peak = budget.predict_peak_bytes(tiny_llama_config, setup)
        assert terms["weights"] + terms["optimizer states"] < peak
        assert peak <= sum(terms.values()) + 4 * tiny_llama_config.vocab_size * tiny_llama_config.hidden_size


def test_seven_b_full_fine_tune_is_16_bytes_per_parameter_so_no_80_gb_gpu_holds_it():
    """Llama-2-7B has 6,738,415,616 parameters (its model card); full fp32 fine-tuning holds 16 bytes of each
    (weights, gradients, two Adam moments) = 107.8 GB, and the activations of one 512-token sequence are freed
    before the optimizer step. Tolerance: 10%, so an estimate that doubles (or halves) a term fails."""
    config = budget.paper_config("llama-2-7b")
    assert lora.count_base_parameters(config) == 6_738_415_616
    peak = budget.predict_peak_bytes(config, budget.TrainingSetup("full", 1, 512, device="cuda"))
    assert peak == pytest.approx(16 * 6_738_415_616, rel=0.10) and peak > 80e9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "dora"}, "unknown method 'dora'"),
        ({"compute_dtype": "int8"}, "compute_dtype must be one of"),
        ({"optimizer": "sgd"}, "unknown optimizer 'sgd'"),
        ({"device": "tpu"}, "device must be 'cpu' or 'cuda'"),
        ({"batch_size": 0}, "must be positive"),
    ],
)
def test_bad_setups_are_refused_with_the_value(kwargs, message):
    values = {"method": "qlora", "batch_size": 1, "seq_len": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        budget.TrainingSetup(**values)


def test_unknown_paper_config_lists_the_known_ones():
    with pytest.raises(ValueError, match="llama-2-7b"):
        budget.paper_config("gpt-5")


def test_tinyllama_qlora_with_the_course_recipe_fits_a_t4():
    """What lesson 04 tells a Colab learner: the course recipe on TinyLlama fits a T4's 15 GB with room to spare."""
    from helpers import models, recipe

    config = models.load_model_config("tinyllama")
    setup = budget.TrainingSetup("qlora", batch_size=8, seq_len=128, compute_dtype="float16", device="cuda",
                                 r=recipe.LORA["r"], target_modules=recipe.LORA["target_modules"],
                                 lora_dropout=recipe.LORA["lora_dropout"])
    terms = budget.predict_training_memory(config, setup)
    # 968,884,224 linear weights in NF4 (4.127 bits with the block scales) + 131,164,160 others in fp16: 0.76 GB
    assert terms["weights"] == pytest.approx(968_884_224 * 4.127 / 8 + 131_164_160 * 2, rel=0.02)
    # 3.8 GB when written, half a T4's 15 GB; ±25% lets the activation model be refined, not doubled or halved
    peak = budget.predict_peak_bytes(config, setup)
    assert peak == pytest.approx(3.84e9, rel=0.25) and peak < 15e9 / 2
