"""The recorded measurements in benchmarks/ still stand behind what the course claims from them: lesson 04's recipe is
the recorded sweep's winner under the selection rule, no recorded recipe beats its machine's roof, and
benchmarks/README.md describes every file there."""

from __future__ import annotations

import json

import pytest

from helpers import recipe
from helpers.paths import REPO_ROOT
from programs import bench

BENCHMARKS = REPO_ROOT / "benchmarks"
SWEEP = BENCHMARKS / "recipe-sweep-cpu-2-cores.json"  # python -m programs.sweep --record
HEADROOM = 0.9  # candidates must fit in 90% of the time budget at lesson 04's pace (benchmarks/README.md)


def recipe_value(key: str):
    section, _, name = key.rpartition(".")
    return (recipe.LORA if section == "lora" else recipe.TRAINING)[name]


def test_the_recipe_is_the_recorded_sweeps_winner_under_the_rule():
    recorded = json.loads(SWEEP.read_text())
    pace = recorded["selection_pace"]  # lesson 04's pace when the recipe was chosen; the machine's speed varies by day
    seconds_per_example = pace["train_seconds"] / (pace["train_steps"] * pace["effective_batch_size"])
    usable = HEADROOM * recorded["budget_seconds"] / seconds_per_example
    within = {name: c for name, c in recorded["candidates"].items()
              if c["steps"] * c["effective_batch_size"] <= usable}
    assert within, f"no candidate fits in {usable:.0f} examples at lesson 04's pace ({seconds_per_example:.2f} s each)"
    winner = max(within, key=lambda name: (within[name]["validation_scores"]["chrf"], -within[name]["validation_loss"]))
    differs = {key: (value, recipe_value(key)) for key, value in recorded["candidates"][winner]["set"].items()
               if recipe_value(key) != value}
    assert not differs, f"helpers/recipe.py must hold the winner {winner!r}; (winner, recipe) differ: {differs}"


@pytest.mark.parametrize("results", bench.load_results(BENCHMARKS), ids=lambda r: bench.machine_slug(r))
def test_no_recorded_recipe_beats_its_roof(results):
    roof = results["matmul"]["flops_per_second"]
    for row in results["speed"]:
        share = row["model_flops_per_second"] / roof
        assert 0.01 < share < 1, f"{row['recipe']}: {share:.0%} of the roof; check bench.training_flops"


def test_the_readme_describes_every_recorded_file():
    text = (BENCHMARKS / "README.md").read_text()
    missing = [p.name for p in BENCHMARKS.iterdir() if p.name != "README.md" and f"`{p.name}`" not in text]
    assert not missing, f"benchmarks/README.md does not say what these are: {missing}"
