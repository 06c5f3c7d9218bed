"""Which base model the course uses, and how to load it.

A small registry picked by the ``COURSE_MODEL`` environment variable (``auto`` | ``tinyllama`` |
``smollm2``). ``auto`` means TinyLlama-1.1B-Chat from the Hub when CUDA is available and the
embedded SmolLM2-135M-Instruct otherwise. :func:`resolve_model` decides once per run and the
loaders take the :class:`ModelSpec` it returns. The loaders stay thin on purpose: the lessons build
their own ``BitsAndBytesConfig`` and pass it in. Introduced in lesson 00.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from helpers import embedded
from helpers.runtime import pick_device

MODEL_ENV = "COURSE_MODEL"
CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class ModelSpec:
    """One course model: a short key, where it comes from, and a sentence about it."""

    key: str
    repo_id: str
    description: str
    embedded: bool = False
    config_file: str | None = None
    random_weights: bool = False


MODELS: dict[str, ModelSpec] = {
    "tinyllama": ModelSpec(
        key="tinyllama",
        repo_id="TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        description="TinyLlama 1.1B chat (Llama architecture, 22 layers), downloaded from the Hugging Face Hub",
        config_file="tinyllama-1.1b-chat.json",
    ),
    "smollm2": ModelSpec(
        key="smollm2",
        repo_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2 135M instruct (Llama architecture, 30 layers), embedded: runs offline on a CPU",
        embedded=True,
    ),
    "tinyllama-shaped": ModelSpec(
        key="tinyllama-shaped",
        repo_id="tinyllama-shaped-random",
        description="random weights in TinyLlama's proportions (8:1 grouped-query attention, MLP 2.75x the hidden "
                    "size; 2 layers of 256) with the embedded tokenizer: the test suite's check that no lesson "
                    "relies on the 135M model's shape",
        random_weights=True,
    ),
}
CHOICES = ("auto", *sorted(MODELS))


class UnknownModelError(ValueError):
    """A model name that is not in the registry."""


class HubUnavailableError(OSError):
    """A Hub model could not be fetched (offline, blocked, or not cached)."""


def resolve_model(name: str | None = None) -> ModelSpec:
    """Turn a model name into a :class:`ModelSpec`: the one place the course's model is decided.

    No name, or ``auto``, defers to ``$COURSE_MODEL``; when that is unset or ``auto`` too, the hardware
    decides (TinyLlama on CUDA, the embedded model otherwise). So ``model: auto`` in a training config
    and ``COURSE_MODEL=smollm2`` give the embedded model, on any machine.
    """
    requested = (name or "auto").strip().lower()
    if requested == "auto":
        requested = os.environ.get(MODEL_ENV, "auto").strip().lower() or "auto"
    if requested == "auto":
        requested = "tinyllama" if pick_device().type == "cuda" else "smollm2"
    if requested not in MODELS:
        raise UnknownModelError(
            f"unknown model {requested!r} (from {MODEL_ENV} or the name given); choose one of {list(CHOICES)}"
        )
    return MODELS[requested]


def _as_spec(model: ModelSpec | str | None) -> ModelSpec:
    return model if isinstance(model, ModelSpec) else resolve_model(model)


def hub_unavailable_message(spec: ModelSpec, cause: BaseException) -> str:
    """The error text for a Hub model that cannot be fetched; it names the embedded alternative."""
    return (
        f"Could not load {spec.repo_id!r} from the Hugging Face Hub ({type(cause).__name__}: {cause}).\n"
        f"Without Hub access use the embedded model instead: set {MODEL_ENV}=smollm2 "
        f"(e.g. `export {MODEL_ENV}=smollm2`, or os.environ[{MODEL_ENV!r}] = 'smollm2' before loading)."
    )


def model_source(model: ModelSpec | str | None = None) -> str:
    """What to pass to ``from_pretrained``: a local folder for the embedded (or random) model, else a Hub id."""
    spec = _as_spec(model)
    if spec.random_weights:
        return str(ensure_tinyllama_shaped())
    return str(embedded.ensure_converted()) if spec.embedded else spec.repo_id


def ensure_tinyllama_shaped() -> Path:
    """A folder holding a random-weight Llama in TinyLlama's proportions and the embedded tokenizer (built once).

    2 layers of 256 with 8 query heads per key/value head and an MLP of 704 (2.75x), like TinyLlama-1.1B's 2048
    and 5632 with 32:4 heads; seeded, so every build is the same model. Tests only: it has learned nothing.
    """
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = embedded.cache_root() / "tinyllama-shaped-random"
    if (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(embedded.ensure_converted())
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=704, num_hidden_layers=2,
                         num_attention_heads=8, num_key_value_heads=1, max_position_embeddings=2048,
                         tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    partial = folder.with_name(folder.name + ".partial")
    LlamaForCausalLM(config).save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(folder)
    return folder


def _from_pretrained(loader: Any, spec: ModelSpec, **kwargs: Any) -> Any:
    try:
        return loader.from_pretrained(model_source(spec), **kwargs)
    except OSError as error:  # huggingface_hub's offline and connection errors are OSErrors
        if spec.embedded or spec.random_weights:
            raise
        raise HubUnavailableError(hub_unavailable_message(spec, error)) from error


def load_tokenizer(model: ModelSpec | str | None = None) -> Any:
    """The model's tokenizer, with padding on the left (what batched generation needs)."""
    from transformers import AutoTokenizer

    spec = _as_spec(model)
    tokenizer = _from_pretrained(AutoTokenizer, spec)
    tokenizer.padding_side = "left"
    return tokenizer


def load_base_model(
    model: ModelSpec | str | None = None,
    *,
    quantization_config: Any = None,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
    place: bool = True,
) -> Any:
    """Load the base causal LM, full precision or quantized with the ``quantization_config`` given.

    ``dtype`` defaults to float32 (the weights that are not quantized keep it). The model is
    placed on ``device`` (default :func:`~helpers.runtime.pick_device`) and put in eval mode;
    ``place=False`` leaves placement to the launcher (FSDP shards the model itself). Loading
    passes through temporary copies (fp32 weights before quantization); their memory is handed
    back to the system afterwards (~0.2 GB for the embedded model on a CPU, see ``helpers.memory``).
    """
    from transformers import AutoModelForCausalLM

    from helpers.memory import release_memory

    spec = _as_spec(model)
    device = device or pick_device()
    kwargs: dict[str, Any] = {"dtype": dtype or torch.float32}
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
        if place:
            kwargs["device_map"] = {"": device.index or 0} if device.type == "cuda" else {"": device.type}
    base = _from_pretrained(AutoModelForCausalLM, spec, **kwargs)
    if quantization_config is None and place:
        base.to(device)
    elif device.type == "cpu":
        keep_4bit_layout_for_training(base)
        release_weights_file(base)
    release_memory()
    return base.eval()


def release_weights_file(model: torch.nn.Module) -> int:
    """Copy the weights that still point into the memory-mapped safetensors file; return how many.

    On a CPU, a 4-bit model's unquantized weights (embeddings, norms) are views into the mapped
    file, which keeps the whole file (all fp32 weights, ~540 MB for the embedded model) resident
    next to the 4-bit copy. Owning those few tensors lets the mapping go. Lesson 06 measured it.
    """
    import bitsandbytes as bnb

    copied = 0
    for module in model.modules():
        for _, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            if isinstance(tensor, bnb.nn.Params4bit) or tensor.device.type != "cpu":
                continue
            tensor.data = tensor.data.clone()
            copied += 1
    return copied


def keep_4bit_layout_for_training(model: torch.nn.Module) -> int:
    """Stop bitsandbytes from re-packing 4-bit weights for CPU inference; return how many layers.

    On CPUs with AVX512-BF16, bitsandbytes 0.50 re-packs a ``Linear4bit`` weight the first time
    it runs in eval mode (e.g. ``generate``) into a layout whose bf16 kernel has no backward. A
    model that generated before training would then train through it ("an autograd kernel was not
    registered ... silently incorrect"). Keeping the standard layout keeps fp32 compute and
    correct gradients, and makes eval-mode and train-mode outputs agree.
    """
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def load_model_config(model: ModelSpec | str | None = None) -> Any:
    """The model's ``LlamaConfig`` without any weights: from the repo's copy, or the embedded folder."""
    from transformers import AutoConfig, LlamaConfig

    spec = _as_spec(model)
    if spec.config_file is not None:
        values = json.loads((CONFIG_DIR / spec.config_file).read_text())
        values.pop("_comment", None)
        return LlamaConfig(**values)
    return AutoConfig.from_pretrained(model_source(spec))


def local_model_dir(model: ModelSpec | str | None = None) -> Path:
    """The folder ``from_pretrained`` reads the base model from: the embedded cache, or the Hub cache's snapshot."""
    spec = _as_spec(model)
    if spec.embedded or spec.random_weights:
        return Path(model_source(spec))
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec.repo_id, local_files_only=True))
    except OSError as error:
        raise HubUnavailableError(hub_unavailable_message(spec, error)) from error
