"""The preference pairs for the DPO lesson (data/preferences): schema, sizes, balance, leakage, length bias."""

import json
import statistics
from pathlib import Path

import pytest

from helpers import data, style

MINIMUM_PAIRS = {"train": 150, "test": 40}
MINIMUM_PER_CATEGORY = {"train": 25, "test": 7}
MAX_LENGTH_RATIO = 1.15
"""Chosen may be at most 15% longer than rejected on average, or DPO learns that longer wins."""


@pytest.fixture(scope="module")
def splits():
    return {split: data.read_preferences(data.preference_split_path(split)) for split in data.PREFERENCE_SPLITS}


def forbidden_prompts() -> dict[str, str]:
    """Normalised text -> source, for every message a preference prompt must not repeat."""
    forbidden = {data.normalise(data.SHOWCASE_PROMPT): "the chapter's showcase prompt"}
    for split in ("test", "validation"):
        for row in data.read_pairs(data.split_path(split)):
            forbidden[data.normalise(row["casual"])] = f"translator {split} {row['id']}"
    return forbidden


def leaked_prompts(prompts: list[str]) -> list[str]:
    forbidden = forbidden_prompts()
    return [f"{prompt!r} repeats {forbidden[data.normalise(prompt)]}" for prompt in prompts
            if data.normalise(prompt) in forbidden]


def test_sizes(splits):
    for split, minimum in MINIMUM_PAIRS.items():
        assert len(splits[split]) >= minimum, split


def test_ids_have_the_split_prefix_and_are_unique_across_splits(splits):
    for split, prefix in (("train", "pt-"), ("test", "pe-")):
        assert all(row["id"].startswith(prefix) for row in splits[split]), split
    ids = [row["id"] for rows in splits.values() for row in rows]
    assert len(ids) == len(set(ids))


def test_categories_are_balanced(splits):
    for split, rows in splits.items():
        for category in data.PREFERENCE_CATEGORIES:
            count = sum(row["category"] == category for row in rows)
            assert count >= MINIMUM_PER_CATEGORY[split], (split, category, count)


def test_every_flaw_is_well_represented(splits):
    for split, rows in splits.items():
        for flaw in data.FLAWS:
            assert sum(row["flaw"] == flaw for row in rows) >= 0.15 * len(rows), (split, flaw)


def test_chosen_is_at_most_15_percent_longer_than_rejected(splits):
    for split, rows in splits.items():
        chosen = statistics.mean(len(row["chosen"].split()) for row in rows)
        rejected = statistics.mean(len(row["rejected"].split()) for row in rows)
        assert chosen <= MAX_LENGTH_RATIO * rejected, (split, chosen, rejected)


def test_no_prompt_repeats_a_translator_test_or_validation_message_or_the_showcase(splits):
    prompts = [row["prompt"] for rows in splits.values() for row in rows]
    assert leaked_prompts(prompts) == []


def test_the_leakage_check_ignores_case_and_punctuation():
    test_message = data.read_pairs(data.split_path("test"))[5]["casual"]
    validation_message = data.read_pairs(data.split_path("validation"))[0]["casual"]
    variants = ["YO i ain't doing that!!", test_message.upper() + "...", f"  {validation_message.lower()} ?"]
    assert len(leaked_prompts(variants)) == len(variants)
    assert leaked_prompts(["nah, not doing the friday deploy"]) == []


def test_no_prompt_is_repeated_within_or_across_the_splits(splits):
    seen: dict[str, str] = {}
    for rows in splits.values():
        for row in rows:
            key = data.normalise(row["prompt"])
            assert key not in seen, f"{row['id']} repeats {seen[key]}: {row['prompt']!r}"
            seen[key] = row["id"]


def test_prompts_are_short_casual_messages(splits):
    for rows in splits.values():
        for row in rows:
            assert 2 <= len(row["prompt"].split()) <= 30, row["id"]


def test_chosen_is_clean_keeps_the_facts_and_has_no_preamble(splits):
    for rows in splits.values():
        for row in rows:
            text = row["chosen"]
            assert style.is_slang_free(text), (row["id"], style.slang_markers(text))
            assert style.keeps_facts(row["prompt"], text), (row["id"], style.missing_facts(row["prompt"], text))
            assert not text.lower().startswith(("sure", "here is", "here's", "certainly")), row["id"]
            assert not (text.startswith('"') and text.endswith('"')), row["id"]


def test_only_fact_changed_rejected_rewrites_lose_facts(splits):
    for rows in splits.values():
        for row in rows:
            if row["flaw"] != "fact_changed":
                assert style.keeps_facts(row["prompt"], row["rejected"]), row["id"]


def test_slangy_rejected_rewrites_keep_slang(splits):
    for rows in splits.values():
        for row in rows:
            if row["flaw"] == "slangy":
                assert not style.is_slang_free(row["rejected"]), row["id"]


def test_datasheet_statistics_match_the_files():
    datasheet = (data.PREFERENCE_DIR / "README.md").read_text()
    assert data.preference_statistics_markdown() in datasheet


def test_load_preferences_returns_dataset():
    dataset = data.load_preferences("test")
    assert dataset.column_names == list(data.PREFERENCE_FIELDS)
    assert len(dataset) == len(data.read_preferences(data.preference_split_path("test")))


def test_unknown_split_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown preference split 'validation'"):
        data.preference_split_path("validation")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_preferences("train", folder=tmp_path)


SAME = "'chosen' and 'rejected' are the same"
GOOD = {"id": "pt-1", "prompt": "nah", "chosen": "I'd rather not, thank you.", "rejected": "No.",
        "category": "declining", "flaw": "blunt"}


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "pt-2", "prompt": "oops"', "malformed JSON"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "rejected"} | {"id": "pt-2"}), "missing field(s)"),
        (json.dumps(GOOD | {"id": "pt-2", "chosen": "  "}), "'chosen' must be a non-empty string"),
        (json.dumps(GOOD | {"id": "pt-2", "flaw": None}), "'flaw' must be a non-empty string"),
        (json.dumps(GOOD | {"id": "pt-2", "category": "refusal"}), "unknown category 'refusal'"),
        (json.dumps(GOOD | {"id": "pt-2", "flaw": "rude"}), "unknown flaw 'rude'"),
        (json.dumps(GOOD), "duplicate id 'pt-1' (first used on line 1)"),
        (json.dumps(GOOD | {"id": "pt-2", "rejected": GOOD["chosen"]}), SAME),
        (json.dumps(GOOD | {"id": "pt-2", "rejected": "i'd RATHER not thank you"}), SAME),
        ("[1, 2]", "expected a JSON object"),
        ("", "empty line"),
    ],
)
def test_loader_errors_name_file_and_line(tmp_path: Path, bad_line, message):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + bad_line + "\n")
    with pytest.raises(data.DatasetFormatError) as error:
        data.read_preferences(path)
    assert str(error.value).startswith(f"{path}:2: ")
    assert message in str(error.value)


def test_an_empty_file_is_refused(tmp_path: Path):
    path = tmp_path / "test.jsonl"
    path.write_text("")
    with pytest.raises(data.DatasetFormatError, match="has no preference pairs"):
        data.read_preferences(path)
