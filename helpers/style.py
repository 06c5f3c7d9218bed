"""Text checks of a reply that need no model: slang left in it, rambling, facts dropped.

These are the style and faithfulness lenses of lesson 04's evaluation. The slang lexicon was
written from the datasheet's description of the casual side (slang, abbreviations such as ``u``,
``pls``, ``tbh``, ``rn``, texting punctuation, lower-case starts) and checked on the *training*
split only, never tuned on the test split. Lesson 04.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


SLANG_WORDS = _word_set(
    """
    yo ain't aint gonna wanna gotta kinda sorta lemme gimme dunno ya y'all yall cuz coz tho nah nope yep yup yeah
    lol lmao lmk omg tbh rn pls plz u ur thx ty btw imo imho idk nvm ngl smh wtf af tmrw tmr b4 bc dude bro
    guys ok okay k sup hey ugh meh whatevs legit super totally awesome cool sucks crazy literally asap fyi
    convo pic pics info tix
    """
)
"""Words a corporate rewrite should not contain (matched as whole words, case-insensitive)."""

SLANG_PHRASES = ("my b", "my bad", "no biggie", "heads up", "shout out", "shoutout", "for real", "no way")
"""Multi-word casual expressions."""

TEXTING_MARKS = re.compile(r"[!?]{2,}|\.\.\.|:\)|:\(|;\)|:D|\bx{2,}\b")
"""Repeated ``!``/``?``, trailing dots and emoticons."""

WEEKDAYS = {
    "monday": ("mon",), "tuesday": ("tue", "tues"), "wednesday": ("wed",), "thursday": ("thu", "thur", "thurs"),
    "friday": ("fri",), "saturday": ("sat",), "sunday": ("sun",),
}
MONTHS = {
    "january": ("jan",), "february": ("feb",), "march": ("mar",), "april": ("apr",), "may": (), "june": ("jun",),
    "july": ("jul",), "august": ("aug",), "september": ("sep", "sept"), "october": ("oct",),
    "november": ("nov",), "december": ("dec",),
}
RELATIVE_DAYS = {
    "today": ("today", "2day"), "tomorrow": ("tomorrow", "tmrw", "tmr", "tmw"), "tonight": ("tonight", "tonite"),
    "yesterday": ("yesterday",), "end of day": ("eod",), "end of week": ("eow",), "next week": ("next week",),
    "this week": ("this week",), "weekend": ("weekend",), "morning": ("morning",), "afternoon": ("afternoon",),
    "noon": ("noon",),
}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve")
ORDINAL_WORDS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                 "tenth", "eleventh", "twelfth")
ACRONYMS = {"pr": "pull request", "ooo": "out of office", "hr": "human resources", "qa": "quality assurance",
            "vp": "vice president", "eta": "expected", "pto": "time off"}
"""Acronyms a rewrite may spell out."""
NOT_NAMES = _word_set(
    """
    i i'm i've i'll i'd im ive ill id hey hi hello yo ok okay pls please thanks thank sorry so but and or also just
    can could would will we you they he she it this that these those the a an my our your no yes not don't can't
    fyi btw tbh lol omg heads quick just any anyone is are was were do does did what why how when where who if
    """
)
"""Capitalised words that are not names when they start a clause (or at all)."""


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9][\w'’-]*", text)


def slang_markers(text: str) -> list[str]:
    """The slang words, casual phrases and texting marks found in ``text`` (empty for a clean reply)."""
    lowered = text.lower().replace("’", "'")
    found = [word for word in _words(lowered) if word in SLANG_WORDS]
    found += [phrase for phrase in SLANG_PHRASES if re.search(rf"\b{re.escape(phrase)}\b", lowered)]
    found += TEXTING_MARKS.findall(text)
    stripped = text.lstrip(" \"'(")
    if stripped[:1].islower():
        found.append("lower-case start")
    return found


def is_slang_free(text: str) -> bool:
    """True when :func:`slang_markers` finds nothing."""
    return not slang_markers(text)


def stays_on_task(reply: str, reference: str, *, factor: float = 2.0) -> bool:
    """True unless the reply runs past ``factor`` times the reference's word count (rambling, chat)."""
    return len(reply.split()) <= factor * max(len(reference.split()), 1)


def _forms(fact: str) -> tuple[str, ...]:
    """All spellings that count as keeping one fact (``fri`` is kept by ``Friday``, ``4`` by ``fourth``)."""
    for table in (WEEKDAYS, MONTHS):
        for full, short in table.items():
            if fact == full or fact in short:
                return (full, *short)
    for full, spellings in RELATIVE_DAYS.items():
        if fact == full or fact in spellings:
            return (full, *spellings)
    if fact.isdigit() and int(fact) < len(NUMBER_WORDS):
        return (fact, NUMBER_WORDS[int(fact)], ORDINAL_WORDS[int(fact)])
    if fact in ACRONYMS:
        return (fact, ACRONYMS[fact])
    return (fact,)


def _day_words(text: str) -> set[str]:
    """Weekday and month words; short forms that are also English words count only as whole day names."""
    words = {w for table in (WEEKDAYS, MONTHS) for full, short in table.items() for w in (full, *short)}
    return words - {"may", "sun", "sat", "mar", "dec", "wed", "jun", "jan"}


def extract_facts(casual: str) -> list[str]:
    """Numbers, days, dates and capitalised names in a casual message, lower-cased.

    Numbers are digits not glued to a preceding letter (``2pm`` gives ``2``, ``Q3`` is a name). A
    capitalised word counts as a name unless it starts a sentence or is listed in :data:`NOT_NAMES`;
    acronyms (``API``, ``Q3``, ``JPGs``) always count.
    """
    text = casual.replace("’", "'")
    lowered = text.lower()
    day_words = _day_words(lowered)
    facts: list[str] = re.findall(r"(?<![A-Za-z\d.,])\d+(?:[.,:]\d+)*", text)
    facts += [word for word in _words(lowered) if word in day_words]
    for phrase in (s for spellings in RELATIVE_DAYS.values() for s in spellings):
        if re.search(rf"\b{re.escape(phrase)}\b", lowered):
            facts.append(phrase)
    sentence_start = True
    for match in re.finditer(r"[A-Za-z][A-Za-z\d'-]*|[.!?]", text):
        token = match.group().removesuffix("'s")
        if token in ".!?":
            sentence_start = True
            continue
        stem = token[:-1] if token.endswith("s") and token[:-1].isupper() else token
        is_acronym = len(stem) > 1 and stem.isupper()
        capitalised = token[0].isupper() and token.lower() not in NOT_NAMES
        name = (is_acronym and stem.lower() not in NOT_NAMES) or (capitalised and not sentence_start)
        if name and stem.lower() not in day_words:
            facts.append(stem.lower())
        sentence_start = False
    return list(dict.fromkeys(facts))


def missing_facts(casual: str, reply: str) -> list[str]:
    """The facts of ``casual`` that ``reply`` does not keep in any accepted spelling."""
    lowered = reply.lower().replace("’", "'")
    missing = []
    for fact in extract_facts(casual):
        forms = _forms(fact)
        if not any(re.search(rf"(?<![A-Za-z\d]){re.escape(form)}(?!\d)", lowered) for form in forms):
            missing.append(fact)
    return missing


def keeps_facts(casual: str, reply: str) -> bool:
    """True when the reply keeps every number, day and name of the casual message."""
    return not missing_facts(casual, reply)


REFUSAL_MARKS = re.compile(
    r"\b(cannot|can't|can not|unable|not able|won't|will not|not in a position|decline|not\b.*\b(?:do|take|commit))\b"
)
POLITE_MARKS = re.compile(r"\b(afraid|unfortunately|sorry|apologi[sz]e|regret|respectfully|please|appreciate|thank)")


def is_polite_refusal(text: str) -> bool:
    """True for a slang-free reply that says no (``cannot``, ``unable``) with a polite frame (``afraid``, ``sorry``).

    The check behind the chapter's example: *"Yo, I ain't doing that."* should become a polite professional refusal.
    """
    lowered = text.lower().replace("\u2019", "'")
    return is_slang_free(text) and bool(REFUSAL_MARKS.search(lowered)) and bool(POLITE_MARKS.search(lowered))


def share(flags: Iterable[bool]) -> float:
    """Fraction of true values (0.0 for none)."""
    flags = list(flags)
    return sum(flags) / len(flags) if flags else 0.0
