"""The engine: a loaded store and encoder behind `ask` and `summary`, reloadable while serving.

The bot, the terminal chat and the CLI all answer through one Engine, so they give the same
answers. `reload_if_changed` swaps in a newly built index without a restart: the new store is
loaded completely before it replaces the old one, so no question ever sees a half-loaded index.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from bot.answer import Answer, answer_query, cite, read_question, topics
from bot.settings import BotSettings
from bot.templates import render
from bot.updates import whats_new
from index.articles import load_articles
from index.batcher import BatchingOnnxEncoder
from index.builder import BuildReport, build_index
from index.embedder import Embedder, Encoder, model_name
from index.errors import EmptyCorpus, IndexCorrupt, IndexMismatch, IndexNotBuilt
from index.onnx_encoder import export_onnx
from index.reader import MODEL_FILE, READER_DIR, Reader
from index.search import Query, default_params
from index.store import FORMAT_VERSION, Store, current_build, load_store, read_manifest
from index.summary import summarize

log = logging.getLogger(__name__)


def index_is_current(stories: Path, index_dir: Path, model: str | None = None) -> bool:
    """True when the served index exists and was built from exactly the current story files,
    by this code's index format, retrieval parameters and (if given) model."""
    try:
        manifest = read_manifest(index_dir)
    except (IndexNotBuilt, IndexCorrupt):
        return False
    if manifest.get("format") != FORMAT_VERSION or manifest.get("params") != default_params():
        return False
    if model is not None and manifest.get("model") != model:
        return False
    articles, _ = load_articles(stories)
    return manifest.get("articles") == {a.id: a.content_hash for a in articles}


def build(
    settings: BotSettings, encoder: Encoder | None = None, progress: bool = False
) -> tuple[BuildReport, list[str]]:
    """Index the stories folder; returns the report and the problems found (file: reason)."""
    articles, problems = load_articles(settings.stories)
    if not articles:
        raise EmptyCorpus(f"no readable .txt or .md stories in {settings.stories}")
    encoder = encoder or Embedder(settings.model_path())
    report = build_index(
        articles,
        settings.index,
        encoder,
        passage_sentences=settings.passage_sentences,
        params=default_params(),
        progress=progress,
    )
    if isinstance(encoder, Embedder) and settings.query_encoder == "onnx":
        onnx_export(settings)  # export the torch-free query model now, while torch is loaded
    return report, [f"{p.path}: {p.reason}" for p in problems]


ONNX_FAILURES = (ImportError, OSError, RuntimeError, ValueError)


def onnx_export(settings: BotSettings) -> Path | None:
    """The model's ONNX export, made once per model under `<index parent>/models/`, or None
    (with a warning) when it cannot be made."""
    try:
        return export_onnx(settings.model_path(), settings.index.parent / "models")
    except ONNX_FAILURES as exc:
        log.warning("no ONNX query encoder (%s); using sentence-transformers", exc)
        return None


def query_encoder(settings: BotSettings) -> Encoder:
    """The encoder for questions: the model's ONNX export (no torch) unless told otherwise.

    Without the export, questions are encoded by sentence-transformers, which gives the same
    vectors, only slower to start.
    """
    folder = onnx_export(settings) if settings.query_encoder == "onnx" else None
    if folder is not None:
        try:
            return BatchingOnnxEncoder(folder)
        except ONNX_FAILURES as exc:
            log.warning("no ONNX query encoder (%s); using sentence-transformers", exc)
    return Embedder(settings.model_path())


def load_reader(settings: BotSettings) -> Reader | None:
    """The trained reader the settings name (None when turned off, or with a warning when the
    shipped weights are missing: answers then come from retrieval alone)."""
    if settings.reader == "off":
        return None
    if not settings.reader and not (READER_DIR / MODEL_FILE).exists():
        log.warning(
            "no reader weights in %s (run `make train`); answering from retrieval alone", READER_DIR
        )
        return None
    return Reader(Path(settings.reader) if settings.reader else READER_DIR)


class Engine:
    """Answers questions and summarises from the served index."""

    def __init__(
        self, settings: BotSettings, encoder: Encoder | None = None, reader: Reader | None = None
    ) -> None:
        self.settings = settings
        self.encoder: Encoder = encoder or query_encoder(settings)
        self.store: Store = load_store(settings.index, expect_model=self.encoder.name)
        self.reader = reader or load_reader(settings)

    def reload_if_changed(self) -> bool:
        """Load the newly served build, if the index now points at another one."""
        build_dir = current_build(self.settings.index)
        if build_dir is None or build_dir == self.store.path:
            return False
        try:
            store = load_store(self.settings.index, expect_model=self.encoder.name)
        except (IndexNotBuilt, IndexCorrupt, IndexMismatch) as exc:
            log.warning("new index not loaded, still serving the old one: %s", exc)
            return False
        self.store = store  # one assignment: a question sees the old store or the new one
        log.info("serving index build %s", store.build_id)
        return True

    def ask(self, question: str, avoid: str | None = None) -> Answer:
        """Answer a question from the current store (passing over sentence id `avoid` when
        another sentence is nearly as good: see `pass_over`)."""
        return self.answer(question, self.read(question), avoid)

    def read(self, question: str) -> Query | None:
        """Encode the question (see `read_question`)."""
        return read_question(self.encoder, question)

    def answer(self, question: str, query: Query | None, avoid: str | None = None) -> Answer:
        """The rest of `ask`: retrieve, read the best candidates, cite and render."""
        return answer_query(
            self.store, question, query, self.settings.citations, avoid=avoid, reader=self.reader
        )

    def summary(self, topic: str | None = None, sentences: int | None = None) -> Answer:
        """A cited extractive summary of the stories, or of what they say about a topic."""
        store = self.store
        n = sentences or self.settings.summary_sentences
        result = summarize(store, self.encoder, topic, n)
        question = f"/summary {topic}" if topic else "/summary"
        if not result.covered:
            text = render("not_in_story", citations=[], related=False, topics=topics(store))
            return Answer(question, False, result.confidence, [], text, kind="declined")
        citations = [cite(store, i, s) for i, s in zip(result.indices, result.scores, strict=True)]
        text = render("summary", citations=citations, topic=topic)
        return Answer(question, True, result.confidence, citations, text, kind="summary")

    def whatsnew(self, since: str | None = None) -> Answer:
        """Sentences added or changed since build `since` (default: the previous update)."""
        return whats_new(self.store, since)


def open_engine(settings: BotSettings, encoder: Encoder | None = None) -> Engine:
    """An Engine over an up-to-date index, building it first if it is missing or stale."""
    name = encoder.name if encoder else model_name(settings.model_path())
    if not index_is_current(settings.stories, settings.index, name):
        print(f"Building the index of {settings.stories} …", file=sys.stderr)
        try:
            report, problems = build(settings, encoder)
        except EmptyCorpus:
            if current_build(settings.index) is None:
                raise
        else:
            for problem in problems:
                print(f"warning: skipped {problem}", file=sys.stderr)
            print(f"Indexed {report.sentences} sentences.", file=sys.stderr)
    return Engine(settings, encoder or query_encoder(settings))
