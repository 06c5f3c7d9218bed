"""Where the lessons save what they make (adapters, merged models), and how they avoid clobbering it.

Everything goes below ``outputs/`` in the repo (git-ignored; ``$COURSE_OUTPUT_DIR`` overrides).
A folder that already holds a previous run's files is moved aside to ``<name>.previous`` with a
message, never silently overwritten. Lessons 04 and 05.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers.paths import REPO_ROOT, display_path

OUTPUT_ENV = "COURSE_OUTPUT_DIR"
ADAPTER_NAME = "corporate-translator-adapter"
MERGED_NAME = "corporate-translator-merged"


def outputs_dir() -> Path:
    """Root folder for generated artifacts: ``$COURSE_OUTPUT_DIR`` or ``outputs/`` in the repo."""
    override = os.environ.get(OUTPUT_ENV)
    return Path(override) if override else REPO_ROOT / "outputs"


def adapter_dir() -> Path:
    """Where lesson 04 saves the trained LoRA adapter (and lesson 05 reads it)."""
    return outputs_dir() / ADAPTER_NAME


def merged_dir() -> Path:
    """Where lesson 05 saves the merged, standalone model."""
    return outputs_dir() / MERGED_NAME


def fresh_output_dir(path: Path) -> Path:
    """Return ``path`` ready to write into; an existing non-empty one is moved to ``<name>.previous``."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        previous = path.with_name(path.name + ".previous")
        if previous.exists():
            shutil.rmtree(previous)
        path.rename(previous)
        print(f"{display_path(path)} held a previous run; it was moved to {display_path(previous)} "
              "(delete it when you no longer need it).")
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_adapter(path: Path | None = None, *, base: str | None = None) -> Path:
    """The trained adapter folder, or a clear error saying to run lesson 04 first.

    With ``base`` (what ``from_pretrained`` would load), also refuse an adapter trained on another model.
    """
    path = Path(path or adapter_dir())
    if not (path / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"No trained adapter at {display_path(path)} (adapter_config.json is missing). Run "
            "notebooks/04_train_with_sft.ipynb first: it trains the Corporate Translator and saves the adapter there."
        )
    if base is not None:
        check_adapter_base(path, base)
    return path


def adapter_base(path: Path) -> str:
    """The base model an adapter was trained on (``base_model_name_or_path`` in its config)."""
    import json

    return json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"]


def check_adapter_base(path: Path, expected: str) -> None:
    """Refuse to combine an adapter with a different base model than the one it was trained on."""
    trained_on = adapter_base(path)
    if Path(trained_on).expanduser().resolve() != Path(expected).expanduser().resolve() and trained_on != expected:
        raise ValueError(
            f"The adapter at {display_path(path)} was trained on {display_path(trained_on)!r}, but this session's base "
            f"model is {display_path(expected)!r}. "
            "Use the same COURSE_MODEL as in lesson 04, or run lesson 04 again with this model."
        )
