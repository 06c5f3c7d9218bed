"""The test suite's shortened run: which rows and steps a lesson gets, and that the rows it gets still hold what
the lessons' quick-run checks look at."""

import pytest
from datasets import Dataset

from helpers import data, run_size


@pytest.fixture
def short_run(monkeypatch):
    monkeypatch.setenv(run_size.SHORT_RUN_ENV, "1")


def test_a_full_run_keeps_everything(monkeypatch):
    monkeypatch.delenv(run_size.SHORT_RUN_ENV, raising=False)
    assert run_size.full() and run_size.steps(75) == 75
    assert run_size.rows(range(100)) == list(range(100))
    dataset = Dataset.from_dict({"x": list(range(100))})
    assert run_size.rows(dataset) is dataset


def test_a_short_run_takes_the_first_rows_and_few_steps(short_run):
    assert run_size.shortened() and run_size.steps(75) == run_size.SHORT_STEPS and run_size.steps(2) == 2
    assert run_size.rows(list(range(100))) == list(range(run_size.SHORT_ROWS))
    assert run_size.rows([1, 2, 3]) == [1, 2, 3]
    assert run_size.rows(list(range(100)), short=30) == list(range(30))


def test_a_dataset_stays_a_dataset_a_trainer_can_evaluate_on(short_run):
    shortened = run_size.rows(Dataset.from_dict({"x": list(range(100))}))
    assert isinstance(shortened, Dataset) and shortened["x"] == list(range(run_size.SHORT_ROWS))


@pytest.mark.parametrize("call", [lambda: run_size.steps(0), lambda: run_size.rows([1], short=0)])
def test_nonsense_sizes_are_refused(call):
    with pytest.raises(ValueError, match=r"at least 1|>= 1"):
        call()


def test_the_short_run_still_sees_the_categories_the_lessons_check(short_run):
    """Lesson 08's politeness table reads the declining and pushing-back messages among the test rows it gets;
    lesson 04's first test message is the chapter's example."""
    test_rows = run_size.rows(list(data.load_split("test")))
    assert {"refusal", "disagreement"} <= {row["category"] for row in test_rows}
    assert test_rows[0]["casual"] == data.SHOWCASE_PROMPT
    triples = run_size.rows(list(data.load_preferences("test")))
    assert {t["flaw"] for t in triples} == {t["flaw"] for t in data.load_preferences("train")}
