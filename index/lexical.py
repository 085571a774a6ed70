"""Lexical retrieval: BM25 over our own tokens, so that names and numbers the embedder blurs count.

Tokens are lowercased words with English stop words dropped and a light suffix strip
("talks" → "talk"), so plurals and simple inflections of a reader's wording still match.

A BM25 index is saved as flat (CSR) arrays: every term's postings — (document id, weight) pairs —
lie in one run of a single `.npy` file, which is memory-mapped at load, so a query reads only the
pages of its own terms; the terms and where their runs start sit in a small JSON file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.passages import Passage, passage_text
from index.splitter import Sentence

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


def words(text: str) -> list[str]:
    """Every word, lowercased, a curly apostrophe read as `'` (the one word splitter: BM25's
    tokens and the follow-up rules both start here).

    >>> words("Rubio’s talks in the U.S.")
    ["rubio's", 'talks', 'in', 'the', 'u', 's']
    """
    return [match.group(0).replace("’", "'") for match in _WORD.finditer(text.lower())]


def tokenize(text: str) -> list[str]:
    """`"Rubio's talks in the U.S."` → `["rubio", "talk", "u"]`-style content tokens."""
    return [stem(word) for word in words(text) if word not in STOP_WORDS]


POSTING = np.dtype([("id", "<i4"), ("weight", "<f4")])


class BM25:
    """Okapi BM25 over term → postings runs (CSR); scores every document for a query.

    `postings[indptr[r] : indptr[r + 1]]` are the documents holding term number r, ids ascending,
    each with its precomputed BM25 weight.
    """

    def __init__(
        self, terms: Sequence[str], indptr: np.ndarray, postings: np.ndarray, n_docs: int
    ) -> None:
        if len(indptr) != len(terms) + 1 or postings.dtype != POSTING:
            raise ValueError("BM25 terms, offsets and postings are out of step")
        if len(postings) != (int(indptr[-1]) if len(indptr) else 0):
            raise ValueError("BM25 offsets do not match the postings")
        self.row = {term: number for number, term in enumerate(terms)}
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.postings = postings
        # Plain strided views of the (possibly memory-mapped) pairs: no per-slice memmap objects.
        self.ids = postings["id"].view(np.ndarray)
        self.weights = postings["weight"].view(np.ndarray)
        self.n_docs = n_docs

    @classmethod
    def fit(cls, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25:
        """The index of tokenised documents."""
        n_docs = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if len(docs) and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avg)
        counts: dict[str, dict[int, int]] = {}
        for doc_id, doc in enumerate(docs):
            for token in doc:
                per_doc = counts.setdefault(token, {})
                per_doc[doc_id] = per_doc.get(doc_id, 0) + 1
        terms = sorted(counts)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(counts[t]) for t in terms])
        postings = np.zeros(int(indptr[-1]), dtype=POSTING)
        for number, term in enumerate(terms):
            per_doc = counts[term]
            ids = np.fromiter(per_doc.keys(), dtype=np.int64, count=len(per_doc))
            tf = np.fromiter(per_doc.values(), dtype=np.float32, count=len(per_doc))
            df = len(per_doc)
            idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            run = postings[indptr[number] : indptr[number + 1]]
            run["id"] = ids
            run["weight"] = idf * tf * (k1 + 1) / (tf + norm[ids])
        return cls(terms, indptr, postings, n_docs)

    def save(self, terms_path: Path, postings_path: Path) -> None:
        """Write the terms and offsets (JSON) and the postings (`.npy`)."""
        terms = sorted(self.row, key=self.row.__getitem__)
        data = {"n_docs": self.n_docs, "terms": terms, "indptr": self.indptr.tolist()}
        Path(terms_path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        with Path(postings_path).open("wb") as handle:
            np.save(handle, np.ascontiguousarray(self.postings))

    @classmethod
    def load(cls, terms_path: Path, postings_path: Path) -> BM25:
        """Read what `save` wrote, the postings memory-mapped (ValueError if malformed)."""
        data = json.loads(Path(terms_path).read_text(encoding="utf-8"))
        postings = np.load(postings_path, mmap_mode="r")
        if postings.ndim != 1:
            raise ValueError(f"{postings_path} is not a postings array")
        return cls(
            data["terms"], np.array(data["indptr"], dtype=np.int64), postings, data["n_docs"]
        )

    def _span(self, token: str) -> slice | None:
        number = self.row.get(token)
        if number is None:
            return None
        return slice(int(self.indptr[number]), int(self.indptr[number + 1]))

    def df(self, token: str) -> int:
        """How many documents hold the token."""
        span = self._span(token)
        return 0 if span is None else span.stop - span.start

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token; an unseen token counts as the rarest.

        So a question's total IDF includes the words the stories never use, and "share of the
        question's rare words matched" drops for questions about something else.
        """
        df = self.df(token)
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def coverage(self, query: Sequence[str]) -> np.ndarray:
        """Per document, the share of the query's total IDF carried by tokens it contains."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        total = 0.0
        for token in set(query):
            idf = self.idf(token)
            total += idf
            span = self._span(token)
            if span is not None:
                out[self.ids[span]] += idf
        return out / total if total > 0 else out

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query tokens (repeats count once)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for token in set(query):
            span = self._span(token)
            if span is not None:
                out[self.ids[span]] += self.weights[span]
        return out


# A build folder's BM25 files: terms (JSON) and postings (memory-mapped) for each index.
LEXICAL_FILES = {
    "sentences": ("sentences.bm25.json", "sentences.bm25.npy"),
    "passages": ("passages.bm25.json", "passages.bm25.npy"),
}


def lexical_indexes(
    sentences: Sequence[Sentence], passages: Sequence[Passage]
) -> tuple[BM25, BM25]:
    """BM25 over the sentences and over the passages."""
    return (
        BM25.fit([tokenize(s.text) for s in sentences]),
        BM25.fit([tokenize(passage_text(p, sentences)) for p in passages]),
    )


def save_lexical(lexical: tuple[BM25, BM25], folder: Path) -> None:
    """Write both BM25 indexes into a build folder (LEXICAL_FILES)."""
    for bm25, (terms, postings) in zip(lexical, LEXICAL_FILES.values(), strict=True):
        bm25.save(folder / terms, folder / postings)


def load_lexical(folder: Path) -> tuple[BM25, BM25]:
    """Both BM25 indexes of a build folder."""
    sentences, passages = (BM25.load(folder / t, folder / p) for t, p in LEXICAL_FILES.values())
    return sentences, passages
