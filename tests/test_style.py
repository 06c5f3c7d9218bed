"""The text lenses of lesson 04: slang markers, rambling, facts kept, polite refusals."""

import pytest

from helpers import data, style


@pytest.mark.parametrize(
    ("text", "markers"),
    [
        ("Yo, I ain't doing that.", ["yo", "ain't"]),
        ("tbh the deck is fine rn", ["tbh", "rn", "lower-case start"]),
        ("Is this done?? pls check", ["pls", "??"]),
        ("my b, left my cam off", ["my b", "lower-case start"]),
        ("I am afraid I cannot commit to that task at this time.", []),
        ("Could you please send the Q3 figures by Friday?", []),
    ],
)
def test_slang_markers(text, markers):
    assert sorted(style.slang_markers(text)) == sorted(markers)
    assert style.is_slang_free(text) == (not markers)


def test_the_lexicon_flags_casual_training_messages_and_not_their_rewrites():
    rows = data.read_pairs(data.split_path("train"))
    assert style.share(style.is_slang_free(row["corporate"]) for row in rows) > 0.98
    assert style.share(not style.is_slang_free(row["casual"]) for row in rows) > 0.6


def test_stays_on_task_is_twice_the_reference_length():
    reference = "one two three four"
    assert style.stays_on_task("a b c d e f g h", reference)
    assert not style.stays_on_task("a b c d e f g h i", reference)


@pytest.mark.parametrize(
    ("casual", "facts"),
    [
        ("gonna be late on the Q3 deck, prob thursday instead of tues", ["thursday", "tues", "q3"]),
        ("Need sign-off from Priya by EOD, 2 approvals left", ["2", "eod", "priya"]),
        ("Yo, I ain't doing that.", []),
        ("Marketing sent the assets as JPGs.", ["jpg"]),
    ],
)
def test_extract_facts(casual, facts):
    assert sorted(style.extract_facts(casual)) == sorted(facts)


def test_missing_facts_accepts_other_spellings_and_names_what_is_lost():
    casual = "gonna be late on the Q3 deck, prob thursday instead of tues, 2 slides left"
    kept = "The Q3 deck will arrive on Thursday rather than Tuesday; two slides remain."
    assert style.missing_facts(casual, kept) == []
    assert style.missing_facts(casual, "The deck will be late.") == ["2", "thursday", "tues", "q3"]
    assert not style.keeps_facts(casual, "The Q3 deck is late.")
    assert style.keeps_facts("send the PR", "Please send the pull request.")


def test_the_fact_finder_agrees_with_the_training_references():
    rows = data.read_pairs(data.split_path("train"))
    assert style.share(style.keeps_facts(row["casual"], row["corporate"]) for row in rows) > 0.97


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am afraid I cannot commit to that task at this time.", True),
        ("Unfortunately, I will not be able to take that on.", True),
        ("I am not doing that.", False),  # a refusal, but not a polite one
        ("Thank you for the update.", False),  # polite, but not a refusal
        ("sorry, I can't lol", False),  # slang
    ],
)
def test_polite_refusal(text, expected):
    assert style.is_polite_refusal(text) is expected


def test_share():
    assert style.share([True, False, True, True]) == 0.75 and style.share([]) == 0.0
