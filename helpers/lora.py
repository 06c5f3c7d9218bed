"""LoRA arithmetic on paper and inside a trained adapter.

A LoRA-adapted linear layer ``d_in -> d_out`` adds ``lora_A`` (r x d_in) and ``lora_B``
(d_out x r): ``r * (d_in + d_out)`` trainable numbers next to a frozen ``d_out x d_in`` weight.
Its update to the weight is the delta weight ``scaling * B @ A`` with ``scaling = lora_alpha / r``
(or ``lora_alpha / sqrt(r)`` with rsLoRA). Lessons 02, 03 and 04.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

LLAMA_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PEFT_DEFAULT_LLAMA_TARGETS = ("q_proj", "v_proj")
_LAYER_MODULE = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)$")


def llama_linear_shapes(model_config: Any) -> dict[str, tuple[int, int]]:
    """``(d_in, d_out)`` of each linear layer in one Llama decoder block, from its config."""
    hidden = model_config.hidden_size
    head_dim = getattr(model_config, "head_dim", None) or hidden // model_config.num_attention_heads
    q_out = model_config.num_attention_heads * head_dim
    kv_out = model_config.num_key_value_heads * head_dim
    inter = model_config.intermediate_size
    return {
        "q_proj": (hidden, q_out),
        "k_proj": (hidden, kv_out),
        "v_proj": (hidden, kv_out),
        "o_proj": (q_out, hidden),
        "gate_proj": (hidden, inter),
        "up_proj": (hidden, inter),
        "down_proj": (inter, hidden),
    }


def resolve_targets(target_modules: Any) -> tuple[str, ...]:
    """Module names a LoraConfig's ``target_modules`` picks in a Llama block (None = peft's default)."""
    if target_modules is None:
        return PEFT_DEFAULT_LLAMA_TARGETS
    if target_modules == "all-linear":
        return LLAMA_LINEAR_MODULES  # peft's all-linear skips the output layer (lm_head)
    if isinstance(target_modules, str):
        raise ValueError(f"only 'all-linear' or a list of names is supported here, got the pattern {target_modules!r}")
    unknown = sorted(set(target_modules) - set(LLAMA_LINEAR_MODULES))
    if unknown:
        raise ValueError(f"unknown Llama module(s) {unknown}; choose from {list(LLAMA_LINEAR_MODULES)}")
    return tuple(name for name in LLAMA_LINEAR_MODULES if name in set(target_modules))


def count_lora_parameters(r: int, target_modules: Any, model_config: Any) -> int:
    """Trainable LoRA numbers, ``sum r * (d_in + d_out)`` over the adapted layers of every block."""
    shapes = llama_linear_shapes(model_config)
    per_block = sum(r * (shapes[name][0] + shapes[name][1]) for name in resolve_targets(target_modules))
    return per_block * model_config.num_hidden_layers


def count_base_parameters(model_config: Any) -> int:
    """Parameters of a Llama model computed from its config (embeddings, blocks, norms, head)."""
    shapes = llama_linear_shapes(model_config)
    block = sum(d_in * d_out for d_in, d_out in shapes.values()) + 2 * model_config.hidden_size
    embeddings = model_config.vocab_size * model_config.hidden_size
    head = 0 if model_config.tie_word_embeddings else embeddings
    return embeddings + model_config.num_hidden_layers * block + model_config.hidden_size + head


def lora_scaling(r: int, lora_alpha: float, *, use_rslora: bool = False) -> float:
    """The factor peft multiplies ``B @ A`` by: ``alpha / r``, or ``alpha / sqrt(r)`` with rsLoRA."""
    return lora_alpha / math.sqrt(r) if use_rslora else lora_alpha / r


def adapted_layers(peft_model: torch.nn.Module, adapter: str = "default") -> dict[tuple[int, str], Any]:
    """Each LoRA layer carrying ``adapter``, keyed by (layer index, module name), e.g. ``(0, "q_proj")``."""
    from peft.tuners.lora import LoraLayer

    layers = {}
    for name, module in peft_model.named_modules():
        match = _LAYER_MODULE.search(name)
        if isinstance(module, LoraLayer) and match and adapter in module.lora_A:
            layers[(int(match.group(1)), match.group(2))] = module
    if not layers:
        raise ValueError(f"no LoRA layers with adapter {adapter!r} found in this model")
    return layers


def delta_weights(
    peft_model: torch.nn.Module, adapter: str = "default", *, keys: Any = None
) -> dict[tuple[int, str], torch.Tensor]:
    """The delta weight ``scaling * B @ A`` (float32, CPU) of each adapted layer, or of the ``keys`` asked for.

    Each delta is as large as the weight it updates: all of them together take as much memory as the
    model in fp32 (~0.5 GB for the embedded model), so ask only for the layers you look at.
    """
    layers = adapted_layers(peft_model, adapter)
    missing = set(keys or ()) - set(layers)
    if missing:
        raise KeyError(f"no LoRA layer {sorted(missing)} with adapter {adapter!r}; adapted: {sorted(layers)[:4]} ...")
    with torch.no_grad():
        return {key: layers[key].get_delta_weight(adapter).detach().float().cpu() for key in (keys or layers)}


def base_weight(layer: torch.nn.Module) -> torch.Tensor:
    """A linear layer's frozen weight as float32 on the CPU, de-quantized first if it is a 4-bit layer."""
    weight = layer.weight
    if weight.__class__.__name__ == "Params4bit":
        import bitsandbytes.functional as bnb_functional

        weight = bnb_functional.dequantize_4bit(weight.data, weight.quant_state)
    return weight.detach().float().cpu()


def relative_update_norms(peft_model: torch.nn.Module, adapter: str = "default") -> dict[tuple[int, str], float]:
    """``||Delta W|| / ||W||`` per adapted layer: how much the notes change each page, whatever its shape.

    Raw norms mostly show matrix size (a 1536x576 MLP matrix has 8x the numbers of a 192x576 k_proj);
    dividing by the frozen weight's own norm compares like with like. One layer at a time, so only one
    delta and one de-quantized weight are in memory at once. Lesson 04.
    """
    norms = {}
    with torch.no_grad():
        for key, module in adapted_layers(peft_model, adapter).items():
            delta = module.get_delta_weight(adapter).float()
            norms[key] = (delta.norm() / base_weight(module.get_base_layer()).norm()).item()
    return norms


def singular_values(delta: torch.Tensor) -> torch.Tensor:
    """Singular values of a delta weight, largest first (at most r of them are non-zero)."""
    return torch.linalg.svdvals(delta.float())
