"""The politeness lens of lesson 08: does a reply say a hard thing with a softener, and without a curt edge?

A reply counts as polite when it is slang-free (:mod:`helpers.style`), holds at least one **softener** (an
apology, a hedge, a request instead of an order: *I'm afraid*, *unfortunately*, *could we*, *I'd suggest*) and no
**blunt marker** (a bare refusal such as *I'm not doing that*, a curt closer such as *Find someone else.*, an order
at the start of a sentence, or rude wording such as *is a joke*). The word lists were written from the preference
datasheet's description of each flaw (``data/preferences/README.md``) and checked on the *training* triples only
(``tests/test_politeness.py``): the chosen rewrites pass far more often than the blunt and literal rejected ones.
A lexicon is a crude reader; lesson 08 shows replies next to its verdicts. Lesson 08.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from helpers.style import is_slang_free, share

SOFTENERS = (
    r"afraid", r"unfortunately", r"sorry", r"regret(?:tably)?", r"sadly", r"apologi[sz]e", r"please", r"kindly",
    r"thank(?:s| you)", r"appreciate", r"understand", r"happy to", r"(?:could|would|might|may) (?:we|you|i|it|be)",
    r"i(?:'d| would) (?:suggest|prefer|rather|recommend|ask|be (?:wary|cautious|happy))", r"i think", r"i believe",
    r"i(?:'m| am) (?:concerned|not sure|not convinced|not comfortable|struggling|unable|not able)", r"concern(?:s|ed)?",
    r"reservations?", r"doubts?", r"perhaps", r"it seems", r"somewhat", r"a little", r"rather than", r"instead",
    r"(?:won't|will not|not) be able to", r"(?:unable|not able) to", r"(?:need|have) to decline", r"prefer not",
    r"could", r"would", r"might", r"may", r"i(?:'d| would) like to", r"i wonder", r"hesitant", r"cautious", r"quite",
    r"seems?", r"i(?:'d| would) (?:advise|avoid)", r"i see it differently",
)
"""Hedges, apologies and requests (regular expressions, matched as whole words, case-insensitive)."""

REASONS = (r"as", r"because", r"since", r"due to", r"given", r"citing", r"following", r"so")
"""Words that give a reason or a consequence (``..., as I'll be at a wedding``)."""

BLUNT_PHRASES = (
    r"not happening", r"(?:find|ask|pick) someone else", r"someone else will have to", r"count me out", r"forget it",
    r"no way", r"end of discussion", r"that's the decision", r"that is final", r"don't ask", r"it can wait",
    r"pick one", r"period(?=[.!]|$)", r"seriously(?=[.!]|$)", r"moving on", r"(?:is|are|was|were) a (?:joke|mess)",
    r"ridiculous", r"dumb", r"insane", r"lazy", r"terrible", r"useless", r"awful", r"gross(?! margin| profit)",
    r"fantasy",
    r"waste of time", r"screwed up", r"toast", r"embarrassing", r"sucks?", r"stupid", r"deal with it",
    r"(?:i'm|i am|we're|we are) not (?!being\b)\w+ing\b",
    r"(?:i|we) won't(?! be able)", r"(?:i|we) will not(?! be able)",
    r"not doing (?:it|that|this)", r"i refuse",
)
"""Curt closers, rude wording and bare refusals (``I'm not doing that``, ``I won't ...``): the datasheet's flaws."""

ORDERS = ("stop", "don't", "do not", "tell", "fix", "process", "use", "send", "get", "just", "go", "ask")
"""Verbs that make an order when they start a sentence (``Stop cancelling my 1:1s.``)."""

_SOFTENER = re.compile(r"\b(?:" + "|".join(SOFTENERS) + r")\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:" + "|".join(REASONS) + r")\b", re.IGNORECASE)
_BLUNT = re.compile(r"\b(?:" + "|".join(BLUNT_PHRASES) + r")\b", re.IGNORECASE)
_ORDER = re.compile(r"(?:^|[.!?;]\s+)(?:" + "|".join(re.escape(verb) for verb in ORDERS) + r")\b", re.IGNORECASE)


def _plain(text: str) -> str:
    return text.replace("\u2019", "'").strip()


def softeners(text: str) -> list[str]:
    """The softeners found in ``text``, as written (empty for a curt reply)."""
    return [match.group(0) for match in _SOFTENER.finditer(_plain(text))]


def reasons(text: str) -> list[str]:
    """The words in ``text`` that give a reason or a consequence (``as``, ``because``, ``due to``)."""
    return [match.group(0) for match in _REASON.finditer(_plain(text))]


def blunt_markers(text: str) -> list[str]:
    """The blunt markers found in ``text``: curt phrases, bare refusals, and orders that open a sentence."""
    plain = _plain(text)
    found = [match.group(0) for match in _BLUNT.finditer(plain)]
    found += [match.group(0).lstrip(".!?; ") for match in _ORDER.finditer(plain)]
    return found


def is_polite(text: str) -> bool:
    """True for a slang-free reply with a softener or a reason, and no blunt marker."""
    return is_slang_free(text) and bool(softeners(text) or reasons(text)) and not blunt_markers(text)


def polite_share(replies: Iterable[str]) -> float:
    """The share (0-1) of ``replies`` that :func:`is_polite` accepts."""
    return share(is_polite(reply) for reply in replies)
