"""Choose lesson 04's recipe by measurement: train each candidate, score it on validation, keep the frontier.

    python -m programs.sweep [--only NAME ...] [--record]

Each candidate in ``configs/sweep.yaml`` is trained by the course's own script in a fresh process
(so timings are comparable) and scored on the whole validation split with every lens of lesson 04.
The two baselines (copy the input, the untrained base model) are scored the same way. Results go
to ``results/recipe-sweep.json``; ``--record`` also keeps them in ``benchmarks/`` for lesson 06.
The test split is never looked at here: lesson 04 reports it once, for the chosen recipe.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from helpers.paths import REPO_ROOT

SWEEP_FILE = REPO_ROOT / "configs" / "sweep.yaml"
BASE_CONFIG = REPO_ROOT / "configs" / "train" / "corporate_translator.yaml"
RESULTS = REPO_ROOT / "results" / "recipe-sweep.json"
RECORDED = REPO_ROOT / "benchmarks" / "recipe-sweep-cpu-2-cores.json"


def load_sweep(path: Path = SWEEP_FILE) -> dict[str, Any]:
    """The sweep file: a time budget and a list of ``{name, note?, set}`` candidates."""
    sweep = yaml.safe_load(path.read_text())
    names = [recipe["name"] for recipe in sweep["recipes"]]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: recipe names must be unique, got {names}")
    return sweep


def assignments(overrides: dict[str, Any]) -> list[str]:
    """The training script's options for a candidate's ``set``: ``max_steps: 56`` -> ``--max_steps 56``; a list
    gives several values, None gives ``none``."""
    return [token for key, value in overrides.items() for token in
            [f"--{key}", *("none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                           for v in (value if isinstance(value, list) else [value]))]]


def run_candidate(recipe: dict[str, Any], output_root: Path) -> dict[str, Any]:
    """Train one candidate with ``python -m programs.train`` in a fresh process; return its metrics."""
    output = output_root / recipe["name"]
    command = [sys.executable, "-m", "programs.train", "--config", str(BASE_CONFIG), "--output_dir", str(output),
               "--eval_examples", "none", *assignments(recipe.get("set", {}))]  # none: score all of validation
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    metrics = json.loads((output / "train_metrics.json").read_text())
    return {"name": recipe["name"], "note": recipe.get("note", ""), "set": recipe.get("set", {}),
            "wall_seconds": round(time.perf_counter() - started, 1), **metrics}


def score_baselines() -> dict[str, Any]:
    """Copy-the-input and the untrained base model, scored on the whole validation split."""
    from helpers import console, data, evaluation, models, recipe, runtime

    console.quiet_library_output()
    device = runtime.pick_device()
    spec = models.resolve_model()
    rows = list(data.load_split("validation"))
    tokenizer = models.load_tokenizer(spec)
    model = models.load_base_model(spec, quantization_config=recipe.bnb_config(device),
                                   dtype=runtime.pick_compute_dtype(device), device=device)
    replies = evaluation.generate_replies(model, tokenizer, [row["casual"] for row in rows], progress=False)
    loss = evaluation.reference_loss(model, tokenizer, rows)
    return {
        "copy_input": evaluation.lens_scores([row["casual"] for row in rows], rows),
        "base": {**evaluation.lens_scores(replies, rows), "reference_loss": loss, "perplexity": math.exp(loss)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m programs.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these candidates (others are kept)")
    parser.add_argument("--record", action="store_true", help=f"also write {RECORDED.relative_to(REPO_ROOT)}")
    options = parser.parse_args(argv)
    sweep = load_sweep()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"candidates": {}}
    results["budget_seconds"] = sweep["budget_seconds"]
    if "baselines" not in results:
        results["baselines"] = score_baselines()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    chosen = [r for r in sweep["recipes"] if not options.only or r["name"] in options.only]
    for number, candidate in enumerate(chosen, start=1):
        print(f"[{number}/{len(chosen)}] {candidate['name']} ...", flush=True)
        metrics = run_candidate(candidate, REPO_ROOT / "results" / "sweep")
        results["candidates"][candidate["name"]] = metrics
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"    {metrics['train_seconds']:.0f} s, validation loss {metrics['validation_loss']:.3f}, "
              f"chrF {metrics['validation_chrf']:.1f}", flush=True)
    if options.record:
        RECORDED.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
