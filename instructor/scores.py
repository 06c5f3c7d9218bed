"""The score record the README quotes (``notebooks/scores.json``): after a lesson, ``make course`` runs its recorder in
the same kernel, which merges the lesson's own variables into the record, so a learner's run never rewrites it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.paths import REPO_ROOT

SCORES_FILE = REPO_ROOT / "notebooks" / "scores.json"
SYSTEM_KEYS = {"copy the input": "copy_input", "base model": "base", "fine-tuned": "fine_tuned"}
METRICS = ("chrf", "chrf_ci", "slang_free", "on_task", "facts_kept")


def merge_into_record(values: dict[str, Any], path: Path = SCORES_FILE) -> Path:
    """Merge ``values`` into the record at ``path``, section by section (lesson 05 adds to lesson 04's sections)."""
    record = json.loads(path.read_text()) if path.exists() else {}
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key] = {**record[key], **value}
        else:
            record[key] = value
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _need(namespace: dict[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if name not in namespace]
    if missing:
        raise KeyError(f"the lesson no longer defines {missing}: update its recorder in instructor/scores.py")
    return [namespace[name] for name in names]


def lesson_04_record(namespace: dict[str, Any]) -> dict[str, Any]:
    """Lesson 04's baselines and fine-tuned model on the whole test split, with the recipe and the targets."""
    from helpers import recipe, runtime

    held_out, scores, perplexity, p_values, casual, replies, targets, train_seconds, steps = _need(
        namespace, "held_out", "scores", "perplexity", "p_values", "casual", "replies", "targets", "train_seconds",
        "steps")
    return {
        "test_examples": len(held_out), "recipe": recipe.describe(), "device": runtime.describe_machine(),
        "train_seconds": round(train_seconds, 1), "train_steps": steps,
        "chrf_p_vs_copy": {"base": round(p_values["base model"], 4), "fine_tuned": round(p_values["fine-tuned"], 4)},
        "perplexity": {"base": round(perplexity["base model"], 3), "fine_tuned": round(perplexity["fine-tuned"], 3)},
        **{metric: {SYSTEM_KEYS[name]: round(s[metric], 4) for name, s in scores.items() if name in SYSTEM_KEYS}
           for metric in METRICS},
        "showcase": {"casual": casual[0], "fine_tuned": replies["fine-tuned"][0]},
        "targets": {row["target (test split)"]: bool(row["reached"]) for _, row in targets.iterrows()},
    }


def lesson_05_record(namespace: dict[str, Any]) -> dict[str, Any]:
    """Lesson 05's merged model (what ships), scored on the same messages."""
    (scores,) = _need(namespace, "scores")
    merged = scores["merged (what ships)"]
    return {metric: {"merged": round(merged[metric], 4)} for metric in METRICS}


def lesson_08_record(namespace: dict[str, Any]) -> dict[str, Any]:
    """Lesson 08's SFT translator against SFT + DPO (a second note trained by DPO), with the issue's targets."""
    (held_out_triples, preference_accuracy, preference_p, test_pairs, scores, chrf_p, politeness_table, targets,
     training_args, train_seconds, steps, replies) = _need(
        namespace, "held_out_triples", "preference_accuracy", "preference_p", "test_pairs", "scores", "chrf_p",
        "politeness_table", "targets", "training_args", "train_seconds", "steps", "replies")
    systems = {"SFT": "sft", "SFT + DPO": "dpo"}
    return {"preference_tuning": {
        "recipe": (f"DPO {'+'.join(training_args.loss_type)}, beta {training_args.beta:g}, "
                   f"lr {training_args.learning_rate:g}, {steps} steps x "
                   f"{training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps}"),
        "train_seconds": round(train_seconds, 1), "held_out_triples": len(held_out_triples),
        "test_examples": len(test_pairs),
        "preference_accuracy": {key: round(preference_accuracy[name], 4) for name, key in systems.items()},
        "preference_p": round(preference_p, 4), "chrf_p_vs_sft": round(chrf_p, 4),
        **{metric: {key: round(scores[name][metric], 4) for name, key in systems.items()} for metric in METRICS},
        "polite": {kind.replace(" ", "_"): {key: round(float(politeness_table.loc[kind, name]), 4)
                                            for name, key in systems.items()} for kind in politeness_table.index},
        "showcase": {"casual": test_pairs[0]["casual"], "sft": replies["SFT"][0], "dpo": replies["SFT + DPO"][0]},
        "targets": {row["target"]: bool(row["reached"]) for _, row in targets.iterrows()},
    }}


def lesson_09_record(namespace: dict[str, Any]) -> dict[str, Any]:
    """Lesson 09's shipped files against the glued model they came from: identical replies, chrF, speed, size."""
    table, casual, notes, targets = _need(namespace, "table", "casual", "notes", "targets")
    rows = {name: {column: round(float(value), 6) for column, value in row.items() if value == value}  # NaN: none
            for name, row in table.iterrows()}
    return {"shipping": {"test_examples": len(casual), "notes": [note.name for note in notes], "rows": rows,
                         "targets": {row["target"]: {"measured": row["measured"], "reached": bool(row["reached"])}
                                     for _, row in targets.iterrows()}}}


RECORDERS = {"04_train_with_sft": lesson_04_record, "05_merge_and_ship": lesson_05_record,
             "08_preference_tuning_dpo": lesson_08_record, "09_ship_gguf": lesson_09_record}


def recorder_source(stem: str) -> str | None:
    """The code ``make course`` runs in a lesson's kernel after its last cell, or None for a lesson without one."""
    if stem not in RECORDERS:
        return None
    return (f"from instructor import scores as _scores\n"
            f"_scores.merge_into_record(_scores.RECORDERS[{stem!r}](globals()))")
