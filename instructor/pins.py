"""``python -m instructor.pins`` writes the pin lines of binder/requirements.txt and environment.yml: pyproject's
dependencies and dev extra at their ``constraints.txt`` versions, torch at the Makefile's ``TORCH_SPEC``.

``--check`` only says whether both files are up to date (a test runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from helpers.colab import normalise, read_pins
from helpers.paths import REPO_ROOT

PIN_LINE = re.compile(r"^(\s*-\s+)?[A-Za-z0-9_.-]+==\S+$")


def torch_spec(root: Path = REPO_ROOT) -> str:
    """The Makefile's ``TORCH_SPEC ?= torch==X``: the torch every local install uses."""
    return re.search(r"^TORCH_SPEC \?= (\S+)", (root / "Makefile").read_text(), re.MULTILINE).group(1)


def direct_pins(root: Path = REPO_ROOT) -> list[str]:
    """``name==version`` for torch and each of pyproject's dependencies and dev extra (versions: constraints.txt)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    names = [re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
             for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]]
    pins = {normalise(name): f"{name}=={version}" for name, version in read_pins(root / "constraints.txt").items()}
    missing = [name for name in names if normalise(name) not in pins and name != "torch"]
    if missing:
        raise SystemExit(f"constraints.txt pins no version for {missing}: add them (pip freeze shows the version)")
    return [torch_spec(root) if name == "torch" else pins[normalise(name)] for name in names]


def with_pins(text: str, pins: list[str]) -> str:
    """``text`` with its run of ``name==version`` lines (YAML list items too) replaced by ``pins``."""
    lines = text.splitlines()
    at = [index for index, line in enumerate(lines) if PIN_LINE.match(line)]
    indent = PIN_LINE.match(lines[at[0]]).group(1) or ""
    return "\n".join([*lines[:at[0]], *(indent + pin for pin in pins), *lines[at[-1] + 1:]]) + "\n"


def generated_files(root: Path = REPO_ROOT) -> dict[Path, str]:
    """Each generated file as it should read: its own text (comments, the CPU index, ``-e .``), the pins new."""
    pins = direct_pins(root)
    files = (root / "binder" / "requirements.txt", root / "environment.yml")
    return {path: with_pins(path.read_text(), pins) for path in files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.pins", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ from the pins")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    stale = {path: text for path, text in generated_files(options.root).items() if path.read_text() != text}
    for path, text in stale.items():
        if options.check:
            print(f"{path.relative_to(options.root)} is stale: run `python -m instructor.pins`", file=sys.stderr)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(options.root)}")
    return 1 if options.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
