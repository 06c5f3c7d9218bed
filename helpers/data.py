"""The Corporate Translator dataset: load, validate and format slang -> corporate pairs.

Each JSONL line is ``{"id", "casual", "corporate", "category", "channel"}``. The loader checks
every line and reports problems as ``file:line``. The one instruction the model is given lives
here (:data:`SYSTEM_PROMPT`) so training, evaluation and the lessons always agree. Lesson 04.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from helpers.paths import REPO_ROOT, display_path
from helpers.tables import markdown_table

DATA_ENV = "COURSE_DATA_DIR"
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "corporate_translator"
SPLITS = ("train", "validation", "test")
FIELDS = ("id", "casual", "corporate", "category", "channel")
CATEGORIES = (
    "apology",
    "complaint",
    "disagreement",
    "escalation",
    "praise",
    "refusal",
    "request",
    "scheduling",
    "small_talk",
    "status_update",
)
CHANNELS = ("chat", "email")
SYSTEM_PROMPT = "Rewrite this message as polite, concise, professional corporate language."
SHOWCASE_PROMPT = "Yo, I ain't doing that."


class DatasetFormatError(ValueError):
    """A dataset file that breaks the schema; the message starts with ``file:line``."""


def data_dir() -> Path:
    """The dataset folder: ``$COURSE_DATA_DIR`` or ``data/corporate_translator`` in this repo."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else DEFAULT_DATA_DIR


def split_path(split: str, folder: Path | None = None) -> Path:
    """Path of one split's JSONL file; unknown split names are refused."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    return (folder or data_dir()) / f"{split}.jsonl"


def _check_row(row: Any, where: str) -> dict[str, str]:
    if not isinstance(row, dict):
        raise DatasetFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [field for field in FIELDS if field not in row]
    if missing:
        raise DatasetFormatError(f"{where}: missing field(s) {missing}; every line needs {list(FIELDS)}")
    for field in FIELDS:
        value = row[field]
        if not isinstance(value, str) or not value.strip():
            raise DatasetFormatError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
    if row["category"] not in CATEGORIES:
        raise DatasetFormatError(
            f"{where}: unknown category {row['category']!r}; choose one of {list(CATEGORIES)}"
        )
    if row["channel"] not in CHANNELS:
        raise DatasetFormatError(f"{where}: unknown channel {row['channel']!r}; choose one of {list(CHANNELS)}")
    return {field: row[field] for field in FIELDS}


def read_pairs(path: Path | str) -> list[dict[str, str]]:
    """Read and validate one JSONL file; raise :class:`DatasetFormatError` naming ``file:line``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset file {display_path(path)} does not exist (expected one of {list(SPLITS)}.jsonl)")
    raw_bytes = path.read_bytes()
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        line, byte = raw_bytes[:error.start].count(b"\n") + 1, raw_bytes[error.start]
        raise DatasetFormatError(
            f"{display_path(path)}:{line}: not UTF-8 text (byte {byte:#04x} at offset {error.start}); "
            "save the file as UTF-8, e.g. with your editor's 'Save with encoding' or "
            "`iconv -f latin1 -t utf-8 old.jsonl > new.jsonl`"
        ) from None
    rows: list[dict[str, str]] = []
    first_line_of_id: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{display_path(path)}:{number}"
        if not line.strip():
            raise DatasetFormatError(f"{where}: empty line; remove it")
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetFormatError(f"{where}: malformed JSON ({error.msg} at column {error.colno})") from None
        row = _check_row(raw, where)
        if row["id"] in first_line_of_id:
            raise DatasetFormatError(
                f"{where}: duplicate id {row['id']!r} (first used on line {first_line_of_id[row['id']]})"
            )
        first_line_of_id[row["id"]] = number
        rows.append(row)
    if not rows:
        raise DatasetFormatError(f"{display_path(path)}: the file has no pairs")
    return rows


def load_split(split: str, folder: Path | None = None) -> Any:
    """One validated split as a ``datasets.Dataset`` with the columns of :data:`FIELDS`."""
    from datasets import Dataset

    return Dataset.from_list(read_pairs(split_path(split, folder)))


def prompt_messages(casual: str) -> list[dict[str, str]]:
    """The chat messages that ask the model to translate ``casual``: system instruction + user text."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": casual}]


def to_prompt_completion(row: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """A pair in trl's conversational prompt-completion format (loss on the completion only)."""
    return {
        "prompt": prompt_messages(row["casual"]),
        "completion": [{"role": "assistant", "content": row["corporate"]}],
    }


def as_prompt_completion(dataset: Any) -> Any:
    """Map a loaded split to prompt/completion columns, dropping the raw ones."""
    return dataset.map(to_prompt_completion, remove_columns=dataset.column_names)


def normalise(text: str) -> str:
    """Lower-case, drop punctuation, squeeze whitespace: the key for duplicate/leakage checks."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def split_statistics(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per split: pair count, per-category and per-channel counts, mean/median/max word lengths."""
    stats: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        rows = read_pairs(split_path(split, folder))
        casual = [len(row["casual"].split()) for row in rows]
        corporate = [len(row["corporate"].split()) for row in rows]
        stats[split] = {
            "pairs": len(rows),
            "categories": dict(sorted(Counter(row["category"] for row in rows).items())),
            "channels": dict(sorted(Counter(row["channel"] for row in rows).items())),
            "casual_words": {"mean": statistics.mean(casual), "median": statistics.median(casual), "max": max(casual)},
            "corporate_words": {
                "mean": statistics.mean(corporate),
                "median": statistics.median(corporate),
                "max": max(corporate),
            },
        }
    return stats


def statistics_markdown(folder: Path | None = None) -> str:
    """The datasheet's statistics tables, computed from the files (a test keeps them in sync)."""
    stats = split_statistics(folder)
    splits = [{"split": split, "pairs": s["pairs"], "chat": s["channels"].get("chat", 0),
               "email": s["channels"].get("email", 0),
               **{f"{side} words (mean / median / max)": f"{w['mean']:.1f} / {w['median']:g} / {w['max']}"
                  for side, w in (("casual", s["casual_words"]), ("corporate", s["corporate_words"]))}}
              for split, s in stats.items()]
    categories = [{"category": category, **{split: stats[split]["categories"].get(category, 0) for split in SPLITS}}
                  for category in CATEGORIES]
    return (markdown_table(splits, align=["left", "right", "right", "right", "left", "left"], compact=True) + "\n\n"
            + markdown_table(categories, compact=True))


if __name__ == "__main__":
    print(statistics_markdown())
