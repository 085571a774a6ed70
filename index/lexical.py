"""Lexical retrieval: BM25 over our own tokens, so that names and numbers the embedder blurs count.

Tokens are lowercased words with English stop words dropped and a light suffix strip
("talks" → "talk"), so plurals and simple inflections of a reader's wording still match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t don doesn didn isn wasn aren
    weren won wouldn shouldn couldn tell say said says also us""".split()
)


def stem(word: str) -> str:
    """A deliberately light stemmer: strips possessives and common plural/verb endings."""
    word = re.sub(r"['’]s$", "", word)
    for suffix, keep in (("ies", 4), ("sses", 5), ("s", 4), ("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= keep:
            if suffix == "ies":
                return word[:-3] + "y"
            if suffix == "sses":
                return word[:-2]
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    """`"Rubio's talks in the U.S."` → `["rubio", "talk", "u"]`-style content tokens."""
    tokens = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0).replace("’", "'")
        if word in STOP_WORDS:
            continue
        tokens.append(stem(word))
    return tokens


class BM25:
    """Okapi BM25 with a dense term → postings layout; scores every document for a query."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n_docs = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if len(docs) and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avg)
        postings: dict[str, dict[int, int]] = {}
        for doc_id, doc in enumerate(docs):
            for token in doc:
                counts = postings.setdefault(token, {})
                counts[doc_id] = counts.get(doc_id, 0) + 1
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for token, counts in postings.items():
            ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            df = len(counts)
            idf = np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))
            weights = idf * tf * (k1 + 1) / (tf + norm[ids])
            self.postings[token] = (ids, weights.astype(np.float32))

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token; an unseen token counts as the rarest.

        So a question's total IDF includes the words the stories never use, and "share of the
        question's rare words matched" drops for questions about something else.
        """
        entry = self.postings.get(token)
        df = 0 if entry is None else len(entry[0])
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def coverage(self, query: Sequence[str]) -> np.ndarray:
        """Per document, the share of the query's total IDF carried by tokens it contains."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        total = 0.0
        for token in set(query):
            idf = self.idf(token)
            total += idf
            entry = self.postings.get(token)
            if entry is not None:
                out[entry[0]] += idf
        return out / total if total > 0 else out

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (repeats count once)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for token in set(query):
            entry = self.postings.get(token)
            if entry is not None:
                out[entry[0]] += entry[1]
        return out
