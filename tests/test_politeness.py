"""The politeness lens: written from the preference datasheet, checked on the training triples only."""

import pytest

from helpers import data, politeness

DECLINING = ("declining", "pushback")
TONE_FLAWS = ("blunt", "literal", "slangy")
"""The flaws that differ from the chosen rewrite in tone (a fact_changed pair differs in one fact, not in tone)."""


@pytest.fixture(scope="module")
def training_triples():
    return [row for row in data.read_preferences(data.preference_split_path("train"))
            if row["category"] in DECLINING and row["flaw"] in TONE_FLAWS]


def test_chosen_rewrites_are_polite_and_rejected_ones_are_not(training_triples):
    chosen = politeness.polite_share(row["chosen"] for row in training_triples)
    rejected = politeness.polite_share(row["rejected"] for row in training_triples)
    assert len(training_triples) >= 40
    assert chosen >= 0.85, f"the lens calls only {chosen:.0%} of the chosen declining/pushback rewrites polite"
    assert rejected <= 0.10, f"the lens calls {rejected:.0%} of the rejected (blunt, literal, slangy) ones polite"


def test_blunt_rejected_rewrites_are_caught_by_a_marker(training_triples):
    blunt = [row["rejected"] for row in training_triples if row["flaw"] == "blunt"]
    assert blunt and all(politeness.blunt_markers(text) or not politeness.softeners(text) for text in blunt)


@pytest.mark.parametrize(("text", "polite"), [
    ("I'm not doing that.", False),  # the SFT translator's answer to the chapter's example
    ("I am afraid I cannot commit to that task at this time.", True),  # the chapter's answer
    ("I can't be on the interview panel tomorrow. Find someone else.", False),
    ("Stop cancelling my 1:1s last minute.", False),
    ("Unfortunately, I can't run the Saturday database upgrade, as I'll be at a wedding.", True),
    ("Could we move the review to Thursday?", True),
    ("Gonna pass on leading the lunch and learn tbh.", False),  # a softener cannot save slang
])
def test_examples(text, polite):
    assert politeness.is_polite(text) is polite, (text, politeness.softeners(text), politeness.blunt_markers(text))


def test_markers_are_reported_as_written():
    assert politeness.softeners("I'm afraid not, sorry.") == ["afraid", "sorry"]
    assert "Find someone else" in politeness.blunt_markers("Busy. Find someone else.")
    assert politeness.reasons("I can't, as I'm away.") == ["as"]
    assert politeness.polite_share([]) == 0.0
