"""The committed lessons' stored outputs read well on GitHub: no folder of the machine that ran them, and no
progress bar stored as a widget whose only text is its first frame."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers.paths import REPO_ROOT
from instructor.notebooks import lesson_notebooks

MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|tmp|root|home|Users|mnt|content|private|var/folders)/[\w./-]+")
WIDGET = "application/vnd.jupyter.widget-view+json"
UNFINISHED_BAR = re.compile(r"(?<!\d)(\d{1,2})%\|")
# Lessons that store evaluation.generate_replies' bar as a widget (tqdm.auto); it becomes text once that loop uses
# helpers.console.progress_bar and the lessons are re-run with `make course`. Remove a name once that is committed.
WIDGET_BARS_PENDING: set[str] = set()


def lessons(pending: set[str] = frozenset()):
    """The lessons; those in ``pending`` are expected to fail (not strictly: a re-run that passes is fine)."""
    mark = pytest.mark.xfail(strict=False, reason="generate_replies' tqdm.auto bar; see WIDGET_BARS_PENDING")
    return [pytest.param(p, marks=mark, id=p.name) if p.name in pending else pytest.param(p, id=p.name)
            for p in lesson_notebooks()]


def stored_text(output) -> str:
    """Every text a reader can see in one output: stream text, tracebacks and the non-image data."""
    parts = [output.get("text", ""), "\n".join(output.get("traceback", []))]
    parts += [json.dumps(value) for kind, value in output.get("data", {}).items() if not kind.startswith("image/")]
    return "\n".join(parts)


def machine_paths(text: str) -> list[str]:
    found = MACHINE_PATH.findall(text)
    for folder in {str(REPO_ROOT), str(Path.home())} - {"/"}:
        found += [folder] * text.count(folder)
    return found


def test_the_path_pattern_sees_machine_folders_and_nothing_else():
    text = ("moved to /work/main/outputs/a.previous; cache ~/.cache/peft-course; /tmp/x.json; "
            "notebooks/04_train.ipynb; https://huggingface.co/docs/peft; 1/2 [00:01<00:01]; /content/course")
    assert MACHINE_PATH.findall(text) == ["/work/main/outputs/a.previous", "/tmp/x.json", "/content/course"]


@pytest.mark.parametrize("path", lessons())
def test_stored_outputs_carry_no_machine_paths(path):
    notebook = nbformat.read(path, as_version=4)
    found = {f"cell {index}: {hit}" for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             for output in cell.outputs for hit in machine_paths(stored_text(output))}
    assert not found, f"{path.name} stores this machine's folders (print artifacts.display_path(...)): {sorted(found)}"


@pytest.mark.parametrize("path", lessons(WIDGET_BARS_PENDING))
def test_stored_progress_bars_have_a_finished_text_form(path):
    """A widget bar is stored with the text of its first frame ("0%|"); GitHub shows only that text."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET in data:
                text = data.get("text/plain", "")
                assert text and not UNFINISHED_BAR.search(text), (
                    f"{path.name} cell {index}: a widget stored with the text {text!r}; use a text progress bar "
                    "(helpers.console.progress_bar)")
