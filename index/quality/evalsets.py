"""Evaluation sets: labelled questions over a few stories, with gold sentences as body offsets.

Two kinds are read. A SQuAD 2.0 file (`../shared/eval/squad2/dev.json`) becomes one story per
article (its paragraphs joined by blank lines); an answerable question's gold sentences are the
ones containing an annotator's `answer_start`. A seed file (`tests/data/seed_questions.json`)
names a story in a stories folder and gives each question's gold sentences verbatim.

A questions file (`../shared/newsqa/questions.json`'s shape, and what `storybot asked --export`
writes) names several stories and gives each question's kind and gold sentences verbatim.

SQuAD's gold is kept as `(article id, character offset)` anchors, so any sentence splitter can
be scored: a sentence is gold when it belongs to the article and its span covers an anchor.
Gold given as whole sentences (the seed and questions files) is kept as spans, and a quote is
right when it is a gold sentence, contains one, or lies inside one and is at least half its
length (newsqa's rule: splitters differ inside quotations).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.articles import Article, parse_article
from index.builder import build_index
from index.embedder import Encoder
from index.errors import BadEvalSet, IndexCorrupt, IndexMismatch, IndexNotBuilt
from index.search import SearchResult, default_params, rank
from index.soft_match import encode_with_tokens
from index.splitter import Sentence
from index.store import (
    FORMAT_VERSION,
    LEXICAL_VERSION,
    SPLITTER_VERSION,
    Store,
    load_store,
)


@dataclass(frozen=True)
class EvalQuestion:
    """A question, its gold anchors (empty when unanswerable) and its kind."""

    question: str
    gold: tuple[tuple[str, int], ...]
    kind: str  # "answerable", "unanswerable", "off-topic" or "not-in-story"
    story: str = ""  # the article id the question is asked about
    spans: tuple[tuple[str, int, int], ...] = ()  # whole gold sentences, when given as text

    @property
    def answerable(self) -> bool:
        """True when the story holds the answer."""
        return bool(self.gold or self.spans)


@dataclass(frozen=True)
class EvalSet:
    """A named set of stories and the questions asked about them."""

    name: str
    articles: tuple[Article, ...]
    questions: tuple[EvalQuestion, ...]

    @property
    def content_hash(self) -> str:
        """Hash of the stories' text: the key of the set's cached index."""
        digest = hashlib.sha256()
        for article in sorted(self.articles, key=lambda a: a.id):
            digest.update(f"{article.id}\x00{article.title}\x00{article.content_hash}\x00".encode())
        return digest.hexdigest()[:16]


def covers_gold(question: EvalQuestion, article: str, start: int, end: int) -> bool:
    """Whether the span `start:end` of `article` quotes the answer: it covers one of the
    question's gold anchors, or contains a gold sentence, or lies inside one and is at least
    half its length."""
    if any(a == article and start <= offset < end for a, offset in question.gold):
        return True
    return any(
        a == article
        and ((start <= s and e <= end) or (s <= start and end <= e and 2 * (end - start) >= e - s))
        for a, s, e in question.spans
    )


def gold_spans(
    article: Article, sentences: list[str], where: Path
) -> tuple[tuple[str, int, int], ...]:
    """Each gold sentence's span in the article's body (it must be there verbatim)."""
    spans = []
    for text in sentences:
        found = article.body.find(text)
        if found < 0:
            raise BadEvalSet(f"{where}: gold sentence not in {article.id}: {text[:60]!r}")
        spans.append((article.id, found, found + len(text)))
    return tuple(spans)


def is_gold(sentence: Sentence, question: EvalQuestion) -> bool:
    """Whether the sentence covers one of the question's gold anchors."""
    return covers_gold(question, sentence.article, sentence.start, sentence.end)


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadEvalSet(f"cannot read the evaluation set {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise BadEvalSet(f"{path}: expected a JSON object")
    return data


def load_squad(path: Path) -> EvalSet:
    """A SQuAD 2.0 file as an EvalSet: one story per article, gold at each `answer_start`."""
    data = _read_json(path)
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    entries = data.get("data")
    if not isinstance(entries, list):
        raise BadEvalSet(f"{path}: no `data` list; is this a SQuAD 2.0 file?")
    for entry in entries:
        title = str(entry["title"]).replace("_", " ")
        article_id = f"squad/{entry['title']}.txt"
        body_parts: list[str] = []
        offset = 0
        for paragraph in entry["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                anchors = sorted(
                    {(article_id, offset + int(a["answer_start"])) for a in qa.get("answers", [])}
                )
                impossible = bool(qa.get("is_impossible")) or not anchors
                kind = "unanswerable" if impossible else "answerable"
                questions.append(
                    EvalQuestion(
                        qa["question"].strip(),
                        () if impossible else tuple(anchors),
                        kind,
                        article_id,
                    )
                )
            body_parts.append(context)
            offset += len(context) + 2
        body = "\n\n".join(body_parts)
        article = parse_article(article_id, body.encode("utf-8"))
        articles.append(
            Article(article.id, title, None, None, None, article.body, article.content_hash)
        )
    return EvalSet(Path(path).stem, tuple(articles), tuple(questions))


def load_seed(path: Path, stories: Path) -> EvalSet:
    """A seed question file (`story`, `answerable[{question, gold}]`, `unanswerable`)."""
    data = _read_json(path)
    story = str(data.get("story", ""))
    story_path = Path(stories) / story
    try:
        article = parse_article(story, story_path.read_bytes())
    except OSError as exc:
        raise BadEvalSet(f"{path}: its story {story_path} cannot be read: {exc}") from exc
    questions: list[EvalQuestion] = []
    for item in data.get("answerable", []):  # type: ignore[attr-defined]
        spans = gold_spans(article, item["gold"], path)
        questions.append(EvalQuestion(item["question"], (), "answerable", story, spans))
    for item in data.get("unanswerable", []):  # type: ignore[attr-defined]
        kind = str(item.get("kind", "unanswerable"))
        questions.append(EvalQuestion(item["question"], (), kind, story))
    return EvalSet(Path(path).stem, (article,), tuple(questions))


KINDS = {"answerable": "answerable", "not_in_story": "not-in-story", "off_topic": "off-topic"}


def load_questions(path: Path) -> EvalSet:
    """A questions file: `{"stories": [{"file", ...}], "questions": [{"story", "q", "kind",
    "gold"}]}` (`../shared/newsqa/questions.json`). The stories are read from the folder named
    by `stories_dir` (absolute, or relative to the file), else `stories/` beside the file.
    Questions of another kind (say, `unlabelled`, still to be judged) are left out."""
    path = Path(path)
    data = _read_json(path)
    folder = path.parent / str(data.get("stories_dir") or "stories")
    entries, items = data.get("stories"), data.get("questions")
    if not isinstance(entries, list) or not isinstance(items, list):
        raise BadEvalSet(f"{path}: expected `stories` and `questions` lists")
    articles: dict[str, Article] = {}
    for entry in entries:
        name = str(entry["file"])
        try:
            articles[name] = parse_article(name, (folder / name).read_bytes())
        except OSError as exc:
            raise BadEvalSet(f"{path}: its story {folder / name} cannot be read: {exc}") from exc
    questions = []
    for item in items:
        kind = KINDS.get(str(item.get("kind")))
        if kind is None:
            continue
        article = articles.get(str(item.get("story")))
        if article is None:
            raise BadEvalSet(f"{path}: question {item.get('q')!r} names no listed story")
        spans = gold_spans(article, list(item.get("gold") or []), path)
        if (kind == "answerable") != bool(spans):
            raise BadEvalSet(f"{path}: {item.get('q')!r} is {kind} but has {len(spans)} gold")
        questions.append(EvalQuestion(str(item["q"]), (), kind, article.id, spans))
    return EvalSet(path.parent.name, tuple(articles.values()), tuple(questions))


def _fingerprint(encoder: Encoder, passage_sentences: int, params: dict[str, Any]) -> str:
    """What a cached eval index depends on besides its stories: the model, the config and the
    versions of what a build writes (index/store.py)."""
    versions = (FORMAT_VERSION, LEXICAL_VERSION, SPLITTER_VERSION)
    digest = hashlib.sha256(f"{encoder.name}\x00{passage_sentences}\x00{versions}\x00".encode())
    digest.update(json.dumps(params, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def eval_store(
    evalset: EvalSet,
    cache_dir: Path,
    encoder: Encoder,
    params: dict[str, Any],
    passage_sentences: int = 5,
) -> Store:
    """The set's index, cached under `cache_dir` by content; rebuilt when code or config changed.

    A rebuild reuses every vector whose input text is unchanged, so only a change to what is
    embedded costs embedding time.
    """
    index_dir = Path(cache_dir) / f"{evalset.name}-{evalset.content_hash}"
    stamp = index_dir.parent / f"{index_dir.name}.fingerprint"
    fingerprint = _fingerprint(encoder, passage_sentences, params)
    if stamp.exists() and stamp.read_text() == fingerprint:
        try:
            return load_store(index_dir, expect_model=encoder.name)
        except (IndexNotBuilt, IndexMismatch, IndexCorrupt):
            pass
    build_index(
        list(evalset.articles),
        index_dir,
        encoder,
        passage_sentences=passage_sentences,
        params=params,
    )
    stamp.write_text(fingerprint)
    return load_store(index_dir, expect_model=encoder.name)


def ranked(
    evalset: EvalSet, cache_dir: Path, encoder: Encoder, k: int
) -> Iterator[tuple[Store, EvalQuestion, SearchResult]]:
    """Each question of the set with the retriever's best `k` hits from the set's index (the
    bot's own retrieval, questions encoded in one batch)."""
    store = eval_store(evalset, cache_dir, encoder, default_params())
    questions = list(evalset.questions)
    vectors, tokens = encode_with_tokens(encoder, [q.question for q in questions])
    for question, vector, qtokens in zip(questions, vectors, tokens, strict=True):
        yield store, question, rank(store, vector, question.question, k=k, qtokens=qtokens)


def ranked_elsewhere(
    evalset: EvalSet, cache_dir: Path, encoder: Encoder, k: int
) -> Iterator[tuple[Store, EvalQuestion, SearchResult]]:
    """Each answerable question asked of the set's other articles instead of its own (the
    retriever's best `k` hits among them, so those of the article nearest its topic): a
    "not in the story" question whose story is about something close. Nothing when the set
    has one article."""
    from index.substore import narrow  # only this needs the substore machinery

    store = eval_store(evalset, cache_dir, encoder, default_params())
    ids = set(store.articles)
    questions = [q for q in evalset.questions if q.answerable]
    if len(ids) < 2 or not questions:
        return
    vectors, tokens = encode_with_tokens(encoder, [q.question for q in questions])
    narrowed: dict[frozenset[str], Store] = {}
    for question, vector, qtokens in zip(questions, vectors, tokens, strict=True):
        own = {a for a, _ in question.gold} | {a for a, _, _ in question.spans}
        others = frozenset(ids - own)
        if not others:
            continue
        if others not in narrowed:
            narrowed[others] = narrow(store, others)
        elsewhere = narrowed[others]
        yield elsewhere, question, rank(elsewhere, vector, question.question, k=k, qtokens=qtokens)
