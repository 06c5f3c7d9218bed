"""The notebooks' Colab badges and install cells, kept in line with ``pyproject.toml``'s ``[tool.course] github_repo``.

``python -m instructor.links sync [--repo owner/name]`` (``make colab-links``) rewrites every lesson's badge and
install cell (one template, :data:`INSTALL_CELL`); ``check`` lists the notebooks that disagree.
"""

from __future__ import annotations

import argparse
import re
import string
import sys
import tomllib
from pathlib import Path

from helpers.paths import REPO_ROOT
from instructor.notebooks import NOTEBOOK_DIR, lesson_notebooks

PYPROJECT = REPO_ROOT / "pyproject.toml"
REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9_.-]{1,100}")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_LINE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", re.IGNORECASE)
COLAB_SCRIPT = "/content/course/helpers/colab.py"
LESSON_FOLDER = "notebooks"
DEFAULT_STUDENT_PATH = "student"
INSTALL_CELL = string.Template("""\
import sys

if "google.colab" in sys.modules:  # Colab only: fetch the course and its pinned libraries
    import os
    import subprocess

    if not os.path.isdir("/content/course"):
        url = "https://github.com/$repo"
        clone = subprocess.run(["git", "clone", "-q", "--depth", "1", url, "/content/course"],
                               capture_output=True, text=True)
        if clone.returncode != 0:
            raise RuntimeError(f"git clone {url} failed:\\n{clone.stderr}Check the address, then run this cell again.")
    %run $script $folder
else:
    print("Local run: nothing to install (`make lab` set up .venv).")""")
"""Every lesson's Colab install cell: clone the course (or stop with git's message), then run its Colab set-up."""


# --- the configured repository -------------------------------------------------------------------


def check_repo(repo: str) -> str:
    """Return ``repo`` if it is a GitHub ``owner/name``; otherwise raise a ValueError that shows the form."""
    name = repo.partition("/")[2] if isinstance(repo, str) else ""
    if not isinstance(repo, str) or not REPO_PATTERN.fullmatch(repo) or name in {".", ".."} or name.endswith(".git"):
        raise ValueError(
            f"{repo!r} is not a GitHub repository; write it as owner/name, without https://github.com/ or .git "
            "(for example sticky-notes-course/peft-course)."
        )
    return repo


def course_settings(pyproject: Path = PYPROJECT) -> dict:
    """``pyproject``'s ``[tool.course]`` table."""
    return tomllib.loads(pyproject.read_text()).get("tool", {}).get("course", {})


def configured_repo(pyproject: Path = PYPROJECT) -> str:
    """The GitHub ``owner/name`` in ``pyproject``'s ``[tool.course] github_repo``."""
    repo = course_settings(pyproject).get("github_repo")
    if repo is None:
        raise ValueError(f"{pyproject} configures no GitHub repository; add\n"
                         "[tool.course]\ngithub_repo = \"owner/name\"")
    return check_repo(repo)


def configured_student_path(pyproject: Path = PYPROJECT) -> str:
    """``[tool.course] student_path`` (default ``student``): the top-level folder student copies are published in."""
    folder = course_settings(pyproject).get("student_path", DEFAULT_STUDENT_PATH)
    if not isinstance(folder, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", folder) or folder in {
        LESSON_FOLDER, "data", "helpers", "programs", "instructor", "configs", "tests",
    }:
        raise ValueError(
            f"{pyproject}: [tool.course] student_path = {folder!r} must name one new folder at the top of the "
            "repository, such as \"student\", so that the lessons' relative links (../data/...) work from it."
        )
    return folder


def set_configured_repo(repo: str, pyproject: Path = PYPROJECT) -> bool:
    """Write ``repo`` as ``[tool.course] github_repo`` in ``pyproject``; return whether the file changed."""
    check_repo(repo)
    text = pyproject.read_text()
    new, found = re.subn(r'^(github_repo\s*=\s*)"[^"]*"', rf'\g<1>"{repo}"', text, count=1, flags=re.MULTILINE)
    if not found:
        raise ValueError(f"{pyproject} has no [tool.course] github_repo line to update; add\n"
                         "[tool.course]\ngithub_repo = \"owner/name\"")
    if new != text:
        pyproject.write_text(new)
    return new != text


# --- the notebooks' links ------------------------------------------------------------------------


def badge_line(repo: str, filename: str, folder: str = LESSON_FOLDER) -> str:
    """The markdown "Open in Colab" badge that opens ``<folder>/<filename>`` of ``repo`` in Colab."""
    url = f"https://colab.research.google.com/github/{check_repo(repo)}/blob/main/{folder}/{filename}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def install_cell_source(repo: str, folder: str = LESSON_FOLDER) -> str:
    """The Colab install cell of a notebook in ``folder`` of ``repo``: :data:`INSTALL_CELL` filled in."""
    return INSTALL_CELL.substitute(repo=check_repo(repo), script=COLAB_SCRIPT, folder=folder)


def install_cell(notebook):
    """The Colab install cell: the first code cell that runs the course's Colab set-up, or None."""
    return next((c for c in notebook.cells if c.cell_type == "code" and COLAB_SCRIPT in c.source), None)


def _without_badges(source: str) -> str:
    """``source`` without any Colab badge line and without the blank lines before its first text."""
    lines = [line for line in source.split("\n") if not BADGE_LINE.fullmatch(line.strip())]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def set_colab_cells(notebook, repo: str, filename: str, folder: str = LESSON_FOLDER) -> list[str]:
    """Bring ``notebook``'s badge and install cell in line with ``repo`` and ``folder`` (in memory); return what was
    wrong. A ValueError when the notebook has no title cell or no install cell."""
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or not _without_badges(first.source).startswith("# "):
        raise ValueError(f"{filename}: the first cell must be markdown starting with the '# NN · Title' heading")
    install = install_cell(notebook)
    if install is None:
        raise ValueError(f"{filename}: no Colab install cell (a code cell running {COLAB_SCRIPT}); "
                         "copy the one from 00_environment.ipynb")
    wrong = []
    badged = f"{badge_line(repo, filename, folder)}\n\n{_without_badges(first.source)}"
    if badged != first.source:
        first.source = badged
        wrong.append("the Colab badge is missing, repeated or points elsewhere")
    canonical = install_cell_source(repo, folder)
    if install.source != canonical:
        install.source = canonical
        wrong.append("the install cell differs from instructor.links.INSTALL_CELL")
    return wrong


def find_mismatches(repo: str | None = None, folder: Path = NOTEBOOK_DIR, *, fix: bool = False) -> list[str]:
    """``"<notebook>: <problem>"`` for each lesson in ``folder`` whose Colab links disagree with ``repo`` (default: the
    configured one). With ``fix``, rewrite those notebooks, and raise the ValueError of one that cannot be fixed."""
    import nbformat

    repo = check_repo(repo) if repo is not None else configured_repo()
    problems = []
    for path in lesson_notebooks(folder):
        notebook = nbformat.read(path, as_version=4)
        try:
            wrong = set_colab_cells(notebook, repo, path.name)
        except ValueError as error:
            if fix:
                raise
            problems.append(str(error))
            continue
        if wrong and fix:
            nbformat.write(notebook, path)
        problems += [f"{path.name}: {problem} (expected {repo})" for problem in wrong]
    return problems


# --- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.links", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="write the configured repo into every notebook's badge and clone URL")
    sync.add_argument("--repo", help="owner/name: first make this the configured repo in pyproject.toml")
    commands.add_parser("check", help="list notebooks whose Colab links disagree with the configured repo")
    args = parser.parse_args(argv)
    try:
        if args.command == "sync" and args.repo is not None and set_configured_repo(args.repo, PYPROJECT):
            print(f"{PYPROJECT.name}: github_repo = {args.repo!r}")
        repo = configured_repo(PYPROJECT)
        problems = find_mismatches(repo, NOTEBOOK_DIR, fix=args.command == "sync")
    except ValueError as error:
        parser.error(str(error))
    if args.command == "sync":
        print("".join(f"fixed {problem}\n" for problem in problems) + f"Every Colab link points at {repo}.\n"
              "The README's links follow with `python -m instructor.readme` (make colab-links runs both).")
        return 0
    print("\n".join([*problems, "Fix with: python -m instructor.links sync (or make colab-links)"]) if problems
          else f"Every notebook's Colab links point at {repo}.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
