import pytest
import torch
from peft import LoraConfig, get_peft_model

from helpers import lora, models


@pytest.mark.parametrize("targets", [None, ["q_proj", "v_proj"], ["o_proj", "down_proj"], "all-linear"])
@pytest.mark.parametrize("r", [1, 4])
def test_paper_count_matches_peft(tiny_llama, tiny_llama_config, targets, r):
    peft_model = get_peft_model(tiny_llama, LoraConfig(r=r, target_modules=targets, task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert lora.count_lora_parameters(r, targets, tiny_llama_config) == trainable


def test_base_parameter_count_matches_model(tiny_llama, tiny_llama_config):
    assert lora.count_base_parameters(tiny_llama_config) == sum(p.numel() for p in tiny_llama.parameters())


def test_tinyllama_numbers_from_the_design():
    config = models.load_model_config("tinyllama")
    assert lora.count_lora_parameters(16, ["q_proj", "v_proj"], config) == 2_252_800
    assert lora.count_base_parameters(config) == 1_100_048_384


def test_unknown_target_is_refused(tiny_llama_config):
    with pytest.raises(ValueError, match="unknown Llama module"):
        lora.count_lora_parameters(8, ["qkv"], tiny_llama_config)
    with pytest.raises(ValueError, match="only 'all-linear'"):
        lora.count_lora_parameters(8, ".*proj", tiny_llama_config)


@pytest.mark.parametrize("use_rslora", [False, True])
@pytest.mark.parametrize(("r", "lora_alpha"), [(1, 1), (4, 8), (8, 16), (16, 32), (16, 8)])
def test_scaling_is_what_peft_multiplies_by(tiny_llama, r, lora_alpha, use_rslora):
    config = LoraConfig(r=r, lora_alpha=lora_alpha, use_rslora=use_rslora, target_modules=["q_proj"])
    layer = get_peft_model(tiny_llama, config).base_model.model.model.layers[0].self_attn.q_proj
    assert lora.lora_scaling(r, lora_alpha, use_rslora=use_rslora) == pytest.approx(layer.scaling["default"])


def test_delta_weights_equal_scaled_b_times_a_with_nonzero_b(tiny_llama):
    peft_model = get_peft_model(tiny_llama, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    torch.manual_seed(1)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_()  # B = 0 would make every check below trivially true
    deltas = lora.delta_weights(peft_model)
    assert sorted(deltas) == [(0, "q_proj"), (1, "q_proj")]
    layer = peft_model.base_model.model.model.layers[1].self_attn.q_proj
    expected = 2.0 * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
    torch.testing.assert_close(deltas[(1, "q_proj")], expected)
    values = lora.singular_values(deltas[(1, "q_proj")])
    assert (values[4:] < 1e-4).all() and (values[:4] > 1e-3).all(), "rank of B@A must be r = 4"


def test_delta_weights_needs_lora_layers(tiny_llama):
    with pytest.raises(ValueError, match="no LoRA layers"):
        lora.delta_weights(tiny_llama)


def test_delta_weights_of_chosen_layers_only(tiny_llama):
    peft_model = get_peft_model(tiny_llama, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    assert sorted(lora.delta_weights(peft_model, keys=[(1, "v_proj")])) == [(1, "v_proj")]
    with pytest.raises(KeyError, match="no LoRA layer"):
        lora.delta_weights(peft_model, keys=[(0, "down_proj")])


def test_relative_update_norms_are_delta_norm_over_weight_norm(tiny_llama):
    peft_model = get_peft_model(tiny_llama, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    torch.manual_seed(2)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_()
    norms = lora.relative_update_norms(peft_model)
    layer = peft_model.base_model.model.model.layers[0].self_attn.q_proj
    expected = lora.delta_weights(peft_model)[(0, "q_proj")].norm() / layer.get_base_layer().weight.norm()
    assert sorted(norms) == [(0, "q_proj"), (1, "q_proj")]
    assert norms[(0, "q_proj")] == pytest.approx(expected.item())
