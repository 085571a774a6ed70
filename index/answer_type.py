"""Answer types: does a sentence hold the kind of thing the question asks for?

"How old is he?" is answered by a sentence with a number in it, "when did it open?" by one with
a date or a time; a sentence that shares every word of the question but holds no number cannot
answer the first. Readers' "not in the story" questions are mostly of this sort (ages, costs,
dates of what happens next), so whether the quoted sentence holds the asked-for type is one of
the signals P(right) may use (index/quality/reader_fit.py chooses the signals on dev).

Deliberately coarse: a handful of patterns, English only. `match` is 1 when the question asks
for a number, a date or time, or a name and the sentence has one, 0 when it has none, and 0.5
when the question asks for something else (why, how, what …), which no pattern can check.
"""

from __future__ import annotations

import re

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    "hundred|thousand|million|billion|dozen|half|several|few"
)
_TIME = re.compile(
    rf"\b({_MONTHS}|{_DAYS}|today|yesterday|tomorrow|tonight|morning|evening|week|month|year|"
    rf"decade|century|ago|later|since|until|\d{{1,2}}:\d\d|(1[5-9]|20)\d\d|\d{{4}}s)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(rf"(\d|\b({_NUMBER_WORDS})\b)", re.IGNORECASE)
# A capitalised word that does not open the sentence: a name (a person, a place, a body).
_NAME = re.compile(r"(?<![.!?] )(?<!^)\b[A-Z][a-z]+")

_ASKS = (
    (
        "time",
        re.compile(
            r"\b(when (did|does|do|is|was|were|will|are|has|have|had|would|could|can)|"
            r"what (year|date|day|month|time)|how long ago|since when)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\b(how (many|much|old|long|far|big|large|high|tall|often)|what (percentage|"
            r"number|amount|age|share|proportion|price|cost)|what percent)\b",
            re.I,
        ),
    ),
    ("name", re.compile(r"\b(who|whom|whose|where|which (country|city|company|team))\b", re.I)),
)
_HAS = {"time": _TIME, "number": _NUMBER, "name": _NAME}


def asks_for(question: str) -> str | None:
    """The type the question asks for: "time", "number", "name", or None."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return None


def match(question: str, sentence: str) -> float:
    """1.0 when the sentence holds what the question asks for, 0.0 when it does not, 0.5 when
    the question asks for nothing a pattern can check."""
    kind = asks_for(question)
    if kind is None:
        return 0.5
    return 1.0 if _HAS[kind].search(sentence) else 0.0
