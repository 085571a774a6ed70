"""Reader-style questions: SQuAD's questions rewritten the way people type in a chat.

SQuAD's questions are careful prose ("What was the name of the 1937 treaty?"); readers of a
news story type "name of the 1937 treaty", "wat treaty was signed in 1937??", "when did they
sign it". A reader trained only on the former meets the latter for the first time in use. These
rewrites are made from the training questions alone (never from an evaluation set), seeded, so
the same training data gives the same pairs:

- lower case, the question mark dropped or doubled;
- a leading "What is/was the" style opener cut to its noun phrase ("what was the name of X" →
  "name of X");
- one typo in a longer word (two letters swapped, one dropped or doubled) and chat spellings
  ("you" → "u", "should" → "shud");
- a proper name the question repeats from its story replaced by a pronoun, so the reader must
  take it from the context ("when did Tesla move" → "when did he move"; `they` for several
  words, as a reader would not know).
"""

from __future__ import annotations

import random
import re

_OPENERS = re.compile(
    r"^(what|which) (is|was|were|are) (the |a |an )?(?=(name|number|size|amount|cost|"
    r"year|date|population|title|type|kind|percentage|purpose|role|reason|result)\b)",
    re.IGNORECASE,
)
_CHAT = {"you": "u", "your": "ur", "should": "shud", "are": "r", "because": "bc", "people": "ppl"}
# A name right after an auxiliary verb is the question's subject ("when did Marie Curie die"):
# the one place a pronoun reads naturally; a name inside a noun phrase ("a Peking professor")
# is left alone.
_SUBJECT = re.compile(
    r"\b(did|does|do|was|is|were|are|has|have|had|will|would|could|can) "
    r"((?:[A-Z][\w\-]*)(?: (?:[A-Z][\w\-]*|of|de|van|von))*?)('s)?(?= [a-z]|\?|$)"
)
_POSSESSIVE = {"he": "his", "she": "her", "it": "its", "they": "their"}


def typo(word: str, rng: random.Random) -> str:
    """`word` with one slip of the fingers (only words of five letters or more)."""
    if len(word) < 5 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:  # two neighbours swapped
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # one dropped
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # one doubled


def pronoun(question: str, rng: random.Random) -> str:
    """A named subject replaced by a pronoun, when the question has one after its first word."""
    found = _SUBJECT.search(question)
    if not found:
        return question
    word = "they" if " " in found.group(2) else rng.choice(("he", "she", "it", "they"))
    if word == "they" and found.group(1) in ("is", "does", "has", "was"):
        word = "it"  # "how large is it", not "is they"
    if found.group(3):
        word = _POSSESSIVE[word]
    return question[: found.start(2)] + word + question[found.end() :]


def casual(question: str, rng: random.Random) -> str:
    """One reader-style rewrite of a well-formed question (see the module docstring)."""
    text = question.strip()
    if rng.random() < 0.2:
        text = pronoun(text, rng)
    if rng.random() < 0.3:
        text = _OPENERS.sub("", text)
    text = text.lower()
    words = text.split()
    if rng.random() < 0.5 and words:
        i = rng.randrange(len(words))
        words[i] = typo(words[i], rng)
    if rng.random() < 0.3:
        words = [_CHAT.get(w, w) for w in words]
    text = " ".join(words).rstrip("?").rstrip()
    ending = rng.random()
    if ending < 0.25:
        text += "?"
    elif ending < 0.35:
        text += "??"
    return text or question
