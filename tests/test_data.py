import json
from pathlib import Path

import pytest

from helpers import data

MINIMUM_PAIRS = {"train": 450, "validation": 50, "test": 100}


@pytest.fixture(scope="module")
def splits():
    return {split: data.read_pairs(data.split_path(split)) for split in data.SPLITS}


def test_counts_per_split(splits):
    for split, minimum in MINIMUM_PAIRS.items():
        assert len(splits[split]) >= minimum, split
    assert sum(len(rows) for rows in splits.values()) >= 600


def test_every_category_in_every_split(splits):
    for split, rows in splits.items():
        assert {row["category"] for row in rows} == set(data.CATEGORIES), split


def test_ids_unique_across_splits(splits):
    ids = [row["id"] for rows in splits.values() for row in rows]
    assert len(ids) == len(set(ids))


def test_no_duplicates_or_leakage_after_normalising(splits):
    seen: dict[str, str] = {}
    for rows in splits.values():
        for row in rows:
            key = data.normalise(row["casual"])
            assert key not in seen, f"{row['id']} repeats {seen[key]}: {row['casual']!r}"
            seen[key] = row["id"]


def test_showcase_prompt_is_only_in_test(splits):
    showcase = data.normalise(data.SHOWCASE_PROMPT)
    where = [split for split, rows in splits.items() for row in rows if data.normalise(row["casual"]) == showcase]
    assert where == ["test"]


def test_corporate_side_has_no_preambles_or_quotes(splits):
    for rows in splits.values():
        for row in rows:
            text = row["corporate"]
            assert not text.lower().startswith(("sure", "here is", "here's", "certainly")), row["id"]
            assert not (text.startswith('"') and text.endswith('"')), row["id"]


def test_datasheet_statistics_match_the_files():
    datasheet = (data.DEFAULT_DATA_DIR / "README.md").read_text()
    assert data.statistics_markdown() in datasheet


def test_load_split_returns_dataset():
    dataset = data.load_split("validation")
    assert dataset.column_names == list(data.FIELDS)
    assert len(dataset) == len(data.read_pairs(data.split_path("validation")))


def test_prompt_completion_format():
    converted = data.as_prompt_completion(data.load_split("validation"))
    example = converted[0]
    assert converted.column_names == ["prompt", "completion"]
    assert [m["role"] for m in example["prompt"]] == ["system", "user"]
    assert example["prompt"][0]["content"] == data.SYSTEM_PROMPT
    assert [m["role"] for m in example["completion"]] == ["assistant"]


GOOD = {"id": "x-1", "casual": "nah", "corporate": "No, thank you.", "category": "refusal", "channel": "chat"}


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "x-2", "casual": "oops"', "malformed JSON"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "corporate"} | {"id": "x-2"}), "missing field"),
        (json.dumps(GOOD | {"id": "x-2", "casual": "  "}), "'casual' must be a non-empty string"),
        (json.dumps(GOOD | {"id": "x-2", "category": "gossip"}), "unknown category 'gossip'"),
        (json.dumps(GOOD | {"id": "x-2", "channel": "fax"}), "unknown channel 'fax'"),
        (json.dumps(GOOD), "duplicate id 'x-1' (first used on line 1)"),
        ("[1, 2]", "expected a JSON object"),
        ("", "empty line"),
    ],
)
def test_loader_errors_name_file_and_line(tmp_path, bad_line, message):
    path = write_lines(tmp_path, [json.dumps(GOOD), bad_line])
    with pytest.raises(data.DatasetFormatError) as error:
        data.read_pairs(path)
    assert str(error.value).startswith(f"{path}:2: ")
    assert message in str(error.value)


def test_unknown_split_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        data.split_path("dev")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_split("train", folder=tmp_path)


def test_data_dir_override(tmp_path, monkeypatch):
    write_lines(tmp_path, [json.dumps(GOOD)])
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.read_pairs(data.split_path("train")) == [GOOD]


def test_a_file_that_is_not_utf8_is_named_with_its_line_and_the_fix(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes((json.dumps(GOOD) + "\n").encode() + '{"id": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(data.DatasetFormatError) as error:
        data.read_pairs(path)
    message = str(error.value)
    assert message.startswith(f"{path}:2: not UTF-8 text (byte 0xe9")
    assert "save the file as UTF-8" in message
