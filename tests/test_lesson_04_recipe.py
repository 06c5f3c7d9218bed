"""Lesson 04 spells its ``BitsAndBytesConfig``, ``LoraConfig`` and ``SFTConfig`` out in full; ``python -m
programs.train`` (lesson 07) takes the same recipe from ``helpers/recipe.py``. This test keeps the two in step
without running the lesson: it reads the lesson's three calls with ``ast`` and compares their literal keyword values
with the recipe's dictionaries, so an edit made in one place only fails here.

``run_size.steps(75)`` counts as 75 (the whole lesson's value); ``**`` arguments (the precision flags) and values
that are not literals (the compute dtype, the output folder) are the hardware's and the run's, not the recipe's.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from helpers import recipe
from helpers.paths import REPO_ROOT
from instructor.notebooks import SOLUTION_TAG

LESSON = REPO_ROOT / "notebooks" / "04_train_with_sft.ipynb"
CONFIGS = {  # the lesson's variable -> (the class it calls, the recipe's values)
    "bnb_config": ("BitsAndBytesConfig", recipe.QUANTIZATION),
    "lora_config": ("LoraConfig", recipe.LORA),
    "training_args": ("SFTConfig", recipe.TRAINING),
}
MISSING = "<not in the call>"
NOT_LITERAL = "<not a literal>"


def _python(cell_source: str) -> str:
    """A code cell as plain Python: IPython's ``%`` and ``!`` lines become ``pass`` (same indentation)."""
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in cell_source.splitlines())


def config_calls(path: Path) -> dict[str, ast.Call]:
    """The call assigned to each of :data:`CONFIGS`' variables in the lesson (worked solutions excluded)."""
    calls: dict[str, ast.Call] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or SOLUTION_TAG in cell.metadata.get("tags", []):
            continue
        for node in ast.walk(ast.parse(_python(cell.source))):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id in CONFIGS):
                name = node.targets[0].id
                assert name not in calls, f"{path.name}: `{name}` is assigned twice; which one is the recipe?"
                calls[name] = node.value
    return calls


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "run_size.steps" and node.args:
        return ast.literal_eval(node.args[0])  # the whole lesson's count
    try:
        return ast.literal_eval(node)
    except ValueError:
        return NOT_LITERAL


def keyword_values(call: ast.Call) -> dict[str, Any]:
    """The call's keyword arguments (not ``**`` ones), literal values evaluated."""
    return {keyword.arg: _literal(keyword.value) for keyword in call.keywords if keyword.arg is not None}


def recipe_differences(path: Path = LESSON) -> dict[str, dict[str, tuple[Any, Any]]]:
    """For each config, ``{key: (lesson's value, recipe's value)}`` where they differ; empty dicts when in step."""
    calls = config_calls(path)
    script_values = recipe.sft_values("out", torch.device("cpu"))
    differences = {}
    for name, (class_name, expected) in CONFIGS.items():
        assert name in calls, f"{path.name}: no `{name} = {class_name}(...)` found"
        assert ast.unparse(calls[name].func) == class_name, f"{path.name}: `{name}` should be a {class_name}(...)"
        values = keyword_values(calls[name])
        differ = {key: (values.get(key, MISSING), value) for key, value in expected.items()
                  if values.get(key, MISSING) != value}
        if name == "training_args":  # the lesson's other literal options the script also sets (save, reports)
            differ |= {key: (value, script_values[key]) for key, value in values.items()
                       if key not in expected and key in script_values and value is not NOT_LITERAL
                       and value != script_values[key]}
        differences[name] = differ
    return differences


def test_the_lessons_configs_are_the_recipe_of_the_script():
    differences = recipe_differences()
    assert differences == {name: {} for name in CONFIGS}, (
        f"lesson 04 and helpers/recipe.py differ (key: (lesson, recipe)): {differences}; change both together")


@pytest.mark.parametrize(("old", "new", "config", "key"), [
    ("learning_rate=1e-3", "learning_rate=2e-3", "training_args", "learning_rate"),
    ("max_steps=run_size.steps(75)", "max_steps=run_size.steps(60)", "training_args", "max_steps"),
    ("lora_alpha=32", "lora_alpha=16", "lora_config", "lora_alpha"),
    ('bnb_4bit_quant_type="nf4"', 'bnb_4bit_quant_type="fp4"', "bnb_config", "bnb_4bit_quant_type"),
    ('report_to="none"', 'report_to="tensorboard"', "training_args", "report_to"),
])
def test_an_edit_of_the_lesson_alone_is_caught(tmp_path, old, new, config, key):
    notebook = nbformat.read(LESSON, as_version=4)
    edited = [cell for cell in notebook.cells if cell.cell_type == "code" and old in cell.source
              and SOLUTION_TAG not in cell.metadata.get("tags", [])]
    assert len(edited) == 1, f"expected {old!r} in exactly one lesson cell"
    edited[0].source = edited[0].source.replace(old, new)
    copy = tmp_path / LESSON.name
    nbformat.write(notebook, copy)
    assert key in recipe_differences(copy)[config]


def test_an_edit_of_the_recipe_alone_is_caught(monkeypatch, tmp_path):
    copy = tmp_path / LESSON.name
    shutil.copy(LESSON, copy)
    monkeypatch.setitem(recipe.TRAINING, "warmup_steps", 7)
    monkeypatch.setitem(recipe.LORA, "r", 8)
    differences = recipe_differences(copy)
    assert differences["training_args"] == {"warmup_steps": (6, 7)}
    assert differences["lora_config"] == {"r": (16, 8)}
