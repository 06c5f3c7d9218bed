"""The Corporate Translator dataset: load, validate and format slang -> corporate pairs.

Each JSONL line is ``{"id", "casual", "corporate", "category", "channel"}``. The loader checks
every line and reports problems as ``file:line``. The one instruction the model is given lives
here (:data:`SYSTEM_PROMPT`) so training, evaluation and the lessons always agree. Lesson 04.

The preference pairs for DPO (``data/preferences``: a prompt, a chosen and a rejected rewrite,
the rejected one's flaw) are read and checked the same way by :func:`read_preferences`.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable
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

PREFERENCE_DIR = REPO_ROOT / "data" / "preferences"
PREFERENCE_SPLITS = ("train", "test")
PREFERENCE_FIELDS = ("id", "prompt", "chosen", "rejected", "category", "flaw")
PREFERENCE_CATEGORIES = ("bad_news", "complaint", "declining", "disagreement", "pushback")
FLAWS = ("blunt", "fact_changed", "literal", "slangy")
"""What is wrong with a preference pair's ``rejected`` rewrite (the datasheet defines each)."""
PAIR_TEXTS = ("prompt", "chosen", "rejected")


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


def _check_fields(row: Any, where: str, fields: tuple[str, ...]) -> dict[str, str]:
    """The ``fields`` of one parsed line, each a non-empty string; anything else names ``where``."""
    if not isinstance(row, dict):
        raise DatasetFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [field for field in fields if field not in row]
    if missing:
        raise DatasetFormatError(f"{where}: missing field(s) {missing}; every line needs {list(fields)}")
    for field in fields:
        value = row[field]
        if not isinstance(value, str) or not value.strip():
            raise DatasetFormatError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
    return {field: row[field] for field in fields}


def _check_choice(row: dict[str, str], field: str, choices: tuple[str, ...], where: str) -> None:
    if row[field] not in choices:
        raise DatasetFormatError(f"{where}: unknown {field} {row[field]!r}; choose one of {list(choices)}")


def _check_row(row: Any, where: str) -> dict[str, str]:
    checked = _check_fields(row, where, FIELDS)
    _check_choice(checked, "category", CATEGORIES, where)
    _check_choice(checked, "channel", CHANNELS, where)
    return checked


def _read_utf8(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is refused with its line and the fix."""
    raw_bytes = path.read_bytes()
    try:
        return raw_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        line, byte = raw_bytes[:error.start].count(b"\n") + 1, raw_bytes[error.start]
        raise DatasetFormatError(
            f"{display_path(path)}:{line}: not UTF-8 text (byte {byte:#04x} at offset {error.start}); "
            "save the file as UTF-8, e.g. with your editor's 'Save with encoding' or "
            "`iconv -f latin1 -t utf-8 old.jsonl > new.jsonl`"
        ) from None


def _read_jsonl(
    path: Path | str, check_row: Callable[[Any, str], dict[str, str]], splits: tuple[str, ...], noun: str
) -> list[dict[str, str]]:
    """Read one JSONL file, checking every line with ``check_row`` and ids for duplicates."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset file {display_path(path)} does not exist (expected one of {list(splits)}.jsonl)")
    rows: list[dict[str, str]] = []
    first_line_of_id: dict[str, int] = {}
    for number, line in enumerate(_read_utf8(path).splitlines(), start=1):
        where = f"{display_path(path)}:{number}"
        if not line.strip():
            raise DatasetFormatError(f"{where}: empty line; remove it")
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetFormatError(f"{where}: malformed JSON ({error.msg} at column {error.colno})") from None
        row = check_row(raw, where)
        if row["id"] in first_line_of_id:
            raise DatasetFormatError(
                f"{where}: duplicate id {row['id']!r} (first used on line {first_line_of_id[row['id']]})"
            )
        first_line_of_id[row["id"]] = number
        rows.append(row)
    if not rows:
        raise DatasetFormatError(f"{display_path(path)}: the file has no {noun}")
    return rows


def read_pairs(path: Path | str) -> list[dict[str, str]]:
    """Read and validate one JSONL file; raise :class:`DatasetFormatError` naming ``file:line``."""
    return _read_jsonl(path, _check_row, SPLITS, "pairs")


def _check_preference(row: Any, where: str) -> dict[str, str]:
    checked = _check_fields(row, where, PREFERENCE_FIELDS)
    _check_choice(checked, "category", PREFERENCE_CATEGORIES, where)
    _check_choice(checked, "flaw", FLAWS, where)
    if normalise(checked["chosen"]) == normalise(checked["rejected"]):
        raise DatasetFormatError(
            f"{where}: 'chosen' and 'rejected' are the same text (ignoring case and punctuation); "
            "a preference pair needs a worse rejected rewrite"
        )
    return checked


def read_preferences(path: Path | str) -> list[dict[str, str]]:
    """Read and validate one preference JSONL file; raise :class:`DatasetFormatError` naming ``file:line``."""
    return _read_jsonl(path, _check_preference, PREFERENCE_SPLITS, "preference pairs")


def preference_split_path(split: str, folder: Path | None = None) -> Path:
    """Path of one preference split (``train`` or ``test``); unknown split names are refused."""
    if split not in PREFERENCE_SPLITS:
        raise ValueError(f"unknown preference split {split!r}; choose one of {list(PREFERENCE_SPLITS)}")
    return (folder or PREFERENCE_DIR) / f"{split}.jsonl"


def load_preferences(split: str, folder: Path | None = None) -> Any:
    """One validated preference split as a ``datasets.Dataset`` with the columns of :data:`PREFERENCE_FIELDS`."""
    from datasets import Dataset

    return Dataset.from_list(read_preferences(preference_split_path(split, folder)))


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


def _word_stats(texts: list[str]) -> dict[str, float]:
    """Mean, median, min and max whitespace word count of ``texts``."""
    counts = [len(text.split()) for text in texts]
    return {"mean": statistics.mean(counts), "median": statistics.median(counts), "min": min(counts),
            "max": max(counts)}


def preference_statistics(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per preference split: pair count, category and flaw counts, word lengths of prompt/chosen/rejected."""
    stats: dict[str, dict[str, Any]] = {}
    for split in PREFERENCE_SPLITS:
        rows = read_preferences(preference_split_path(split, folder))
        stats[split] = {
            "pairs": len(rows),
            "categories": dict(sorted(Counter(row["category"] for row in rows).items())),
            "flaws": dict(sorted(Counter(row["flaw"] for row in rows).items())),
            **{f"{field}_words": _word_stats([row[field] for row in rows]) for field in PAIR_TEXTS},
            "rejected_words_by_flaw": {
                flaw: statistics.mean(len(row["rejected"].split()) for row in rows if row["flaw"] == flaw)
                for flaw in FLAWS if any(row["flaw"] == flaw for row in rows)
            },
        }
    return stats


def preference_statistics_markdown(folder: Path | None = None) -> str:
    """The preference datasheet's tables, computed from the files (a test keeps them in sync)."""
    stats, splits = preference_statistics(folder), PREFERENCE_SPLITS
    lines = [
        "| split | pairs | prompt words (mean / min / max) | chosen words (mean / median / max) "
        "| rejected words (mean / median / max) | chosen ÷ rejected (mean words) |",
        "|---|---:|---|---|---|---:|",
    ]
    for split, s in stats.items():
        pw, cw, rw = s["prompt_words"], s["chosen_words"], s["rejected_words"]
        lines.append(
            f"| {split} | {s['pairs']} | {pw['mean']:.1f} / {pw['min']} / {pw['max']} "
            f"| {cw['mean']:.1f} / {cw['median']:g} / {cw['max']} | {rw['mean']:.1f} / {rw['median']:g} / {rw['max']} "
            f"| {cw['mean'] / rw['mean']:.2f} |"
        )
    lines += ["", "| category | train | test |", "|---|---:|---:|"]
    for category in PREFERENCE_CATEGORIES:
        counts = " | ".join(str(stats[sp]["categories"].get(category, 0)) for sp in splits)
        lines.append(f"| {category} | {counts} |")
    lines += ["", "| flaw | train | test | rejected words, mean (train / test) |", "|---|---:|---:|---|"]
    for flaw in FLAWS:
        counts = " | ".join(str(stats[sp]["flaws"].get(flaw, 0)) for sp in splits)
        means = " / ".join(f"{stats[sp]['rejected_words_by_flaw'].get(flaw, 0):.1f}" for sp in splits)
        lines.append(f"| {flaw} | {counts} | {means} |")
    return "\n".join(lines)

if __name__ == "__main__":
    print(statistics_markdown())
