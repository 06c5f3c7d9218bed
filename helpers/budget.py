"""A memory budget for training a Llama model: full fine-tuning, LoRA and QLoRA, predicted from its config.

Training memory is a sum of a few terms, each a count times a width in bytes:

- **weights**: every base parameter at its storage width (4 bytes fp32, 2 bytes 16-bit, ~0.52 bytes for
  NF4 with double quantization: 4 bits + an 8-bit scale per 64 weights + an fp32 scale per 256 scales);
- **LoRA weights**, **gradients** and **optimizer states** for the trainable numbers only: AdamW keeps two
  fp32 moments (8 bytes), 8-bit AdamW two 1-byte moments plus a scale per 256;
- **activations**: what autograd saves in the forward pass for the backward pass. Per token and decoder
  block this module lists them tensor by tensor (the list was read off a real Llama block with
  ``torch.autograd.graph.saved_tensors_hooks``; lesson 06 shows how);
- **logits**: the ``tokens x vocab`` logits, their log-softmax kept by the loss, and the two gradients of
  that size that exist together when the backward pass starts.

Activations are freed layer by layer while gradients appear, so the peak is the weights and optimizer
states plus the larger of (activations + logits + the first gradients) and (all gradients). Lesson 06.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from helpers.lora import count_base_parameters, count_lora_parameters, llama_linear_shapes, resolve_targets

METHODS = ("full", "lora", "qlora")
NF4_BITS_PER_WEIGHT = 4 + 8 / 64 + 32 / (64 * 256)
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
OPTIMIZER_BYTES = {"adamw": 8.0, "adamw_8bit": 2 + 2 * 4 / 256}


@dataclasses.dataclass(frozen=True)
class TrainingSetup:
    """What is trained, how, and on what shape of batch.

    ``method``: ``full`` (every weight trains), ``lora`` (frozen base at ``weight_dtype``) or ``qlora``
    (frozen NF4 base whose other layers and activations use ``compute_dtype``). ``compute_dtype`` is
    the width of activations: fp32 on a CPU, bf16/fp16 on a GPU (for ``full`` it is the mixed-precision
    autocast dtype, with fp32 master weights, gradients and states). ``device`` matters for one detail:
    dropout keeps a float mask on a CPU and a 1-byte mask on CUDA (its fused kernel).
    """

    method: str
    batch_size: int
    seq_len: int
    compute_dtype: str = "float32"
    weight_dtype: str = "float32"
    r: int = 16
    target_modules: Any = "all-linear"
    lora_dropout: float = 0.0
    optimizer: str = "adamw"
    activation_checkpointing: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        for name in ("compute_dtype", "weight_dtype"):
            if getattr(self, name) not in DTYPE_BYTES:
                raise ValueError(f"{name} must be one of {sorted(DTYPE_BYTES)}, got {getattr(self, name)!r}")
        if self.optimizer not in OPTIMIZER_BYTES:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {sorted(OPTIMIZER_BYTES)}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.batch_size < 1 or self.seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be positive, got {self.batch_size} x {self.seq_len}")

    @property
    def tokens(self) -> int:
        return self.batch_size * self.seq_len


def linear_parameters(model_config: Any) -> int:
    """Weights in the decoder blocks' linear layers: the part 4-bit quantization compresses."""
    shapes = llama_linear_shapes(model_config)
    return model_config.num_hidden_layers * sum(d_in * d_out for d_in, d_out in shapes.values())


def _embedding_only(model_config: Any) -> int:
    """Parameters used by lookup, not matmul: the input embedding when it is not tied to the head."""
    return 0 if model_config.tie_word_embeddings else model_config.vocab_size * model_config.hidden_size


def paper_config(name: str) -> Any:
    """A ``LlamaConfig`` shipped in ``helpers/configs`` (e.g. ``llama-2-7b``), for budgets of models not loaded."""
    import json

    from transformers import LlamaConfig

    from helpers.models import CONFIG_DIR

    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
        raise ValueError(f"no config {name!r} in {CONFIG_DIR}; choose one of {known}")
    values = json.loads(path.read_text())
    values.pop("_comment", None)
    return LlamaConfig(**values)


def trainable_parameters(model_config: Any, setup: TrainingSetup) -> int:
    """Numbers the optimizer updates: all of them (full) or the LoRA matrices."""
    if setup.method == "full":
        return count_base_parameters(model_config)
    return count_lora_parameters(setup.r, setup.target_modules, model_config)


def weight_bytes(model_config: Any, setup: TrainingSetup) -> float:
    """The base model's weights as stored: NF4 linears + the rest at compute width (QLoRA), else one dtype."""
    total = count_base_parameters(model_config)
    if setup.method == "full":
        # fp32 master weights; under mixed precision autocast also keeps a 16-bit copy of each matmul weight
        autocast_copy = 0 if setup.compute_dtype == "float32" else 2 * (total - _embedding_only(model_config))
        return total * 4 + autocast_copy
    if setup.method == "lora":
        return total * DTYPE_BYTES[setup.weight_dtype]
    linear = linear_parameters(model_config)
    return linear * NF4_BITS_PER_WEIGHT / 8 + (total - linear) * DTYPE_BYTES[setup.compute_dtype]


def block_activation_bytes_per_token(model_config: Any, setup: TrainingSetup) -> float:
    """Bytes autograd saves per token in one decoder block (width ``a`` = compute dtype).

    Both RMSNorms keep their input upcast to fp32 and ``rsqrt`` (4h + 4 bytes each) and, when their
    weight trains, the normalised output. Attention keeps q and the output (h each), k and v (the
    key/value width, smaller with grouped-query attention) and a log-sum-exp per head. The SwiGLU MLP
    keeps the gate output, its SiLU and the up output (3 x intermediate); with trainable weights also
    the inputs of the q/k/v, gate/up and down projections (o_proj's input is the attention output,
    already counted). Each LoRA module keeps, in fp32, its dropped input and ``lora_A``'s output (r),
    and its dropout mask (fp32 on a CPU, 1 byte on CUDA); without dropout, only the input.
    """
    a = DTYPE_BYTES[setup.compute_dtype]
    h, i = model_config.hidden_size, model_config.intermediate_size
    heads = model_config.num_attention_heads
    head_dim = getattr(model_config, "head_dim", None) or h // heads
    q_width, kv_width = heads * head_dim, model_config.num_key_value_heads * head_dim
    norms = 2 * (4 * h + 4)
    attention = a * (2 * q_width + 2 * kv_width) + 4 * heads
    mlp = a * 3 * i
    if setup.method == "full":
        norms += 2 * a * h
        mlp += a * (h + i)  # gate/up input, down input
        attention += a * h  # q/k/v input
        return norms + attention + mlp
    shapes = llama_linear_shapes(model_config)
    targets = resolve_targets(setup.target_modules)
    if setup.lora_dropout > 0:
        mask = 4 if setup.device == "cpu" else 1
        lora = sum((4 + mask) * shapes[name][0] + 4 * setup.r for name in targets)
    else:  # no dropout: modules reading the same input share it, and o_proj's input is the attention
        # output attention already keeps (unless LoRA's fp32 cast had to copy it from 16 bits)
        inputs = {"q_proj": "attn", "k_proj": "attn", "v_proj": "attn", "o_proj": "o", "gate_proj": "mlp",
                  "up_proj": "mlp", "down_proj": "down"}
        distinct = {inputs[name]: shapes[name][0] for name in targets}
        if a == 4:
            distinct.pop("o", None)
        lora = 4 * sum(distinct.values()) + 4 * setup.r * len(targets)
    return norms + attention + mlp + lora


def activation_bytes(model_config: Any, setup: TrainingSetup) -> float:
    """Saved activations of all blocks plus the final norm; with checkpointing only block inputs + one block."""
    tokens, h = setup.tokens, model_config.hidden_size
    a = DTYPE_BYTES[setup.compute_dtype]
    per_block = block_activation_bytes_per_token(model_config, setup)
    final_norm = 4 * h + 4 + (2 * a * h if setup.method == "full" else 0)
    layers = model_config.num_hidden_layers
    if setup.activation_checkpointing:
        return tokens * (layers * a * h + per_block + final_norm)
    return tokens * (layers * per_block + final_norm)


def logits_bytes(model_config: Any, setup: TrainingSetup) -> float:
    """Logits (compute width), their fp32 log-softmax, and the two fp32 gradients alive as backward starts."""
    a = DTYPE_BYTES[setup.compute_dtype]
    return setup.tokens * model_config.vocab_size * (a + 4 + 4 + 4)


def predict_training_memory(model_config: Any, setup: TrainingSetup) -> dict[str, float]:
    """Bytes per term for one training step of ``setup`` on the model described by ``model_config``."""
    trainable = trainable_parameters(model_config, setup)
    lora = setup.method != "full"
    return {
        "weights": weight_bytes(model_config, setup),
        "LoRA weights": 4 * trainable if lora else 0,
        "gradients": 4 * trainable,
        "optimizer states": OPTIMIZER_BYTES[setup.optimizer] * trainable,
        "activations": activation_bytes(model_config, setup),
        "logits": logits_bytes(model_config, setup),
    }


def predict_peak_bytes(model_config: Any, setup: TrainingSetup) -> float:
    """Predicted peak: weights + states + the larger of the forward-side and gradient-side totals.

    When backward starts, all activations and the logits are alive, and the first gradient to appear is
    the output layer's (for full fine-tuning: the ``vocab x hidden`` head, tied or not). Later,
    activations are freed as gradients fill in; at the end all gradients are alive and the optimizer
    step runs (fused AdamW needs no full-size temporaries). With tied embeddings, full fine-tuning briefly
    holds a second ``vocab x hidden`` gradient at the end.
    """
    terms = predict_training_memory(model_config, setup)
    resident = terms["weights"] + terms["LoRA weights"] + terms["optimizer states"]
    first_gradient = 4 * model_config.vocab_size * model_config.hidden_size if setup.method == "full" else 0
    if setup.method != "full":
        first_gradient = terms["gradients"]  # LoRA gradients are tiny; count them all
    forward_side = terms["activations"] + terms["logits"] + first_gradient
    gradient_side = terms["gradients"]
    if setup.method == "full" and model_config.tie_word_embeddings:
        # the input embedding's gradient is computed on its own, then added to the tied head's
        gradient_side += 4 * model_config.vocab_size * model_config.hidden_size
    return resident + max(forward_side, gradient_side)
