"""The reader: a project-trained cross-encoder that reads a question *against* each candidate.

Retrieval (index/search.py) scores question and sentence encoded apart; it finds the right
neighbourhood but cannot tell "the talks were held in London" from "the meeting was to be held
at a ministerial level". The reader sees both texts in one pass of MiniLM (fine-tuned from the
packaged all-MiniLM-L6-v2 by `storybot train`, index/quality/reader_training.py) and gives one
logit per pair: how likely the sentence answers the question.

A candidate is read with its context — the story title and the sentence before it in its
paragraph — after the sentence itself, so "he"/"his" can be resolved and truncation cuts
context, never the sentence. The shipped weights are an int8 ONNX graph run by onnxruntime with
the `tokenizers` library: no torch on the answer path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from index import answer_type
from index.search import SearchResult, probability
from index.store import Store

READER_DIR = Path(__file__).parent / "reader"
MODEL_FILE = "model.int8.onnx"
MAX_LENGTH = 128
SEPARATOR = " [SEP] "


def reader_text(store: Store, index: int) -> str:
    """What the reader sees of sentence `index`: the sentence, then its title and the sentence
    before it in the paragraph."""
    sentence = store.sentences[index]
    title = store.articles[sentence.article].title
    before = int(store.neighbours[index, 0])
    previous = store.sentences[before].text if before >= 0 else ""
    return pair_text(sentence.text, title, previous)


def pair_text(sentence: str, title: str, previous: str) -> str:
    """The reader's second segment for a sentence and its context (training uses it too)."""
    context = (f"{title}. {previous}" if title else previous) if previous else title
    return f"{sentence}{SEPARATOR}{context}"


def tokenizer(folder: Path) -> Any:
    """The reader's tokenizer (the packaged model's), truncating the longer side of a pair."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    # Longest first: the sentence side is cut (its context goes first), unless the question is
    # the longer — a 1,000-character question would leave the sentence nothing to cut.
    tok.enable_truncation(max_length=MAX_LENGTH, strategy="longest_first")
    tok.no_padding()
    return tok


def encode_pairs(tok: Any, question: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Model inputs for one question against each text."""
    return encode_batch(tok, [(question, t) for t in texts])


def encode_batch(tok: Any, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Token ids, attention mask and segment ids for (question, text) pairs, padded to the
    longest pair (not to MAX_LENGTH: most pairs are half as long)."""
    encodings = tok.encode_batch(list(pairs))
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(pairs), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class Reader:
    """Scores (question, candidate) pairs with the trained cross-encoder, one thread."""

    def __init__(
        self, folder: Path = READER_DIR, threads: int = 1, model_file: str | None = None
    ) -> None:
        import onnxruntime as ort

        self.folder = Path(folder)
        # How the reader's scores are used, fitted on dev (index/quality/reader_fit.py); absent only
        # while `storybot train` scores dev with a fresh export.
        path = self.folder / "reader.json"
        self.params: dict[str, Any] = (
            json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        )
        self.model_file = model_file or str(self.params.get("model", MODEL_FILE))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.folder / self.model_file), options, providers=["CPUExecutionProvider"]
        )
        self._names = {i.name for i in self._session.get_inputs()}
        self._tok = tokenizer(self.folder)

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text: higher means the text answers the question."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        feed = encode_pairs(self._tok, question, texts)
        out = self._session.run(None, {k: v for k, v in feed.items() if k in self._names})
        return np.asarray(out[0], dtype=np.float32).reshape(-1)


def logit(p: float) -> float:
    """The log-odds of a probability, clipped away from 0 and 1."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def right_features(
    scores: np.ndarray,
    logits: np.ndarray,
    best: int,
    retriever_answerable: float,
    question: str,
    sentence: str,
) -> dict[str, float]:
    """What P(right) is a logistic model of: the chosen hit's combined score, its margin over
    the next best, the reader's own logit for it, the retriever's P(answered | on topic) as
    log-odds, and whether the sentence holds the type of thing asked for (index/answer_type.py)."""
    others = np.delete(scores, best)
    return {
        "best": float(scores[best]),
        "margin": float(scores[best] - others.max()) if len(others) else 0.0,
        "logit": float(logits[best]),
        "retriever": logit(retriever_answerable),
        "type": answer_type.match(question, sentence),
    }


def reread(store: Store, result: SearchResult, reader: Reader) -> SearchResult:
    """`result` with its best `top` hits re-scored by the reader and the decision made anew.

    A hit's combined score is the reader's logit plus `retriever` times the retriever's score
    (the weight fitted on dev, index/quality/reader_fit.py); re-scored hits are ordered by it;
    hits past `top` follow in the retriever's order with score 0. `confidence` is P(on topic) ×
    P(right): the second a logistic model (fitted on dev) of the chosen hit's signals
    (`right_features`), the estimated chance that the quoted sentence answers. The reply is
    an answer only at `threshold` or above (fitted so that at most 10% of dev answers are
    wrong); the retriever's topic model still tells "not in the story" from "touches on it".
    """
    params = reader.params
    top = result.hits[: int(params["top"])]
    if not top:
        return result
    logits = reader.logits(result.question, [reader_text(store, h.index) for h in top])
    retrieved = np.array([h.score for h in top], dtype=np.float32)
    combined = logits + float(params["retriever"]) * retrieved
    order = np.argsort(-combined, kind="stable")
    # A hit's own score is its combined logit as a probability: ordered as the hits are, and
    # comparable between them (`pass_over` asks whether the next is nearly as good).
    own = 1.0 / (1.0 + np.exp(-np.clip(combined, -50, 50)))
    hits = [replace(top[i], score=float(own[i])) for i in order]
    hits += [replace(h, score=0.0) for h in result.hits[len(top) :]]
    chosen = int(order[0])
    signals = right_features(
        combined, logits, chosen, result.answerable, result.question, top[chosen].sentence.text
    )
    confidence = result.topic * probability(params["right"], signals)
    return replace(
        result,
        hits=hits,
        confidence=confidence,
        answered=result.related and confidence >= float(params["threshold"]),
    )
