"""The engine: a loaded store and encoder behind `ask` and `summary`, reloadable while serving.

The bot, the terminal chat and the CLI all answer through one Engine, so they give the same
answers. `reload_if_changed` swaps in a newly built index without a restart: the new store is
loaded completely before it replaces the old one, so no question ever sees a half-loaded index.

Asked with `stories`, the engine answers from those stories only, through a substore
(`index.substore`) made once per choice of stories and build and kept beside the store. A
question asked again word for word (by another user, or in a burst as a story breaks) gets the
answer already made from the same build: answering is a model call per candidate, a few tens of
milliseconds of CPU, and it gives the same answer every time (STORYBOT_ANSWER_CACHE). A
summary is always of one story: the one asked for, else the one its topic is about, else the
most recently updated one, and its header says which.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from threadpoolctl import threadpool_limits

from bot.answer import Answer, answer_query, cite, read_question, topics
from bot.settings import BotSettings
from bot.templates import render
from bot.whatsnew import whats_new
from index.batcher import BatchingOnnxEncoder
from index.builder import (
    BuildReport,
    build_running,
    build_stories,
    counted,
    index_is_current,
)
from index.embedder import Embedder, Encoder, model_name
from index.errors import EmptyCorpus, IndexBusy, IndexCorrupt, IndexMismatch, IndexNotBuilt
from index.onnx_encoder import export_onnx
from index.reader import MODEL_FILE, READER_DIR, Reader
from index.search import Query
from index.store import Store, current_build, load_store
from index.stories import Catalog, Story
from index.substore import narrow
from index.summary import summarize, topic_article

log = logging.getLogger(__name__)

SUBSTORES = 32


def build(
    settings: BotSettings, encoder: Encoder | None = None, progress: bool = False
) -> tuple[BuildReport, list[str]]:
    """Index the stories folder (index.builder.build_stories), then make the ONNX query model
    while torch is loaded; returns the report and the problems found (file: reason)."""
    encoder = encoder or Embedder(settings.model_path())
    report, problems = build_stories(
        settings.stories, settings.index, encoder, settings.passage_sentences, progress
    )
    if isinstance(encoder, Embedder) and settings.query_encoder == "onnx":
        onnx_export(settings)  # export the torch-free query model now, while torch is loaded
    return report, [f"{p.path}: {p.reason}" for p in problems]


ONNX_FAILURES = (ImportError, OSError, RuntimeError, ValueError)


def onnx_export(settings: BotSettings) -> Path | None:
    """The model's ONNX export, made once per model under `STORYBOT_MODELS` (by default
    `<index parent>/models/`), or None (with a warning) when it cannot be made."""
    try:
        cache = settings.models or settings.index.parent / "models"
        return export_onnx(settings.model_path(), cache)
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


AnswerKey = tuple[str, str | None, frozenset[str]]


@dataclass
class Served:
    """One loaded build: its store, its stories, and the substores and answers made from it
    so far (a new build starts without either)."""

    store: Store
    catalog: Catalog
    substores: dict[frozenset[str], Store] = field(default_factory=dict, repr=False)
    answers: OrderedDict[AnswerKey, Answer] = field(default_factory=OrderedDict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, store: Store) -> Served:
        return cls(store, Catalog.of(store))

    def scope(self, stories: Sequence[Story]) -> Store:
        """The store narrowed to `stories` (those still in this build); all of it for none."""
        files = frozenset(s.file for s in stories if self.catalog.of_file(s.file))
        if not files or len(files) == len(self.catalog):
            return self.store
        store = self.substores.get(files)
        if store is None:
            # Two threads may both make it; either result is the same, and the dict stays whole.
            store = narrow(self.store, files)
            if len(self.substores) >= SUBSTORES:
                self.substores.pop(next(iter(self.substores)), None)
            self.substores[files] = store
        return store

    def answer_of(self, key: AnswerKey) -> Answer | None:
        """The answer already made for `key` (question, passed-over sentence, stories)."""
        with self.lock:
            answer = self.answers.get(key)
            if answer is not None:
                self.answers.move_to_end(key)
            return answer

    def keep(self, key: AnswerKey, answer: Answer, limit: int) -> None:
        """Remember `answer`, forgetting the least recently asked past `limit` answers."""
        with self.lock:
            self.answers[key] = answer
            while len(self.answers) > limit:
                self.answers.popitem(last=False)


class Engine:
    """Answers questions and summarises from the served index."""

    def __init__(
        self, settings: BotSettings, encoder: Encoder | None = None, reader: Reader | None = None
    ) -> None:
        self.settings = settings
        # One question is answered on one thread (the bot's handler threads, the batching
        # encoder): BLAS and OpenMP pools of their own would only spin beside it. In this
        # process they doubled the CPU of an answer (79 → 37 ms, 80 seed questions) and slowed
        # it (47 → 37 ms). Builds made before this keep torch's threads; the limit is for serving.
        threadpool_limits(limits=1)
        self.encoder: Encoder = encoder or query_encoder(settings)
        self.served = Served.of(load_store(settings.index, expect_model=self.encoder.name))
        self.reader = reader or load_reader(settings)
        # Why the newest build is not served (unreadable, other format or model), for /status.
        self.problem: str | None = None

    @property
    def store(self) -> Store:
        """The served store (every story)."""
        return self.served.store

    @property
    def catalog(self) -> Catalog:
        """The served stories."""
        return self.served.catalog

    def reload_if_changed(self) -> bool:
        """Load the newly served build, if the index now points at another one."""
        build_dir = current_build(self.settings.index)
        if build_dir is None or build_dir == self.store.path:
            return False
        try:
            store = load_store(self.settings.index, expect_model=self.encoder.name)
        except (IndexNotBuilt, IndexCorrupt, IndexMismatch) as exc:
            problem = f"cannot serve build {build_dir.name}: {exc}"
            if problem != self.problem:  # once per bad build, not once per poll
                log.warning("new index not loaded, still serving the old one: %s", exc)
            self.problem = problem
            return False
        # One assignment: a question sees the old build (and its stories) or the new one.
        self.served = Served.of(store)
        self.problem = None
        log.info("serving index build %s", store.build_id)
        return True

    def ask(self, question: str, avoid: str | None = None, stories: Sequence[Story] = ()) -> Answer:
        """Answer a question from the current store, or from `stories` only (passing over
        sentence id `avoid` when another sentence is nearly as good: see `pass_over`); the
        same question asked again of the same build gets the same answer, made once."""
        served = self.served
        limit = self.settings.answer_cache
        key = (question, avoid, frozenset(s.file for s in stories))
        answer = served.answer_of(key) if limit else None
        if answer is None:
            answer = self._answer(served, question, self.read(question), avoid, stories)
            if limit:
                served.keep(key, answer, limit)
        return answer

    def read(self, question: str) -> Query | None:
        """Encode the question (see `read_question`)."""
        return read_question(self.encoder, question)

    def _answer(
        self,
        served: Served,
        question: str,
        query: Query | None,
        avoid: str | None,
        stories: Sequence[Story],
    ) -> Answer:
        """Retrieve from `served`, read the best candidates, cite and render."""
        return answer_query(
            served.scope(stories),
            question,
            query,
            self.settings.citations,
            avoid=avoid,
            reader=self.reader,
            catalog=served.catalog,
        )

    def summary(
        self,
        topic: str | None = None,
        sentences: int | None = None,
        stories: Sequence[Story] = (),
        picker: str = "--story ID",
    ) -> Answer:
        """A cited extractive summary of one story, or of what it says about a topic.

        The story is the one of `stories` (default: all of them) that the topic is about, or
        else the most recently updated; when there was a choice, the reply says how it was made
        and that `picker` picks another.
        """
        served = self.served
        pool = [s for s in stories if served.catalog.of_file(s.file)] or served.catalog.stories
        topic = " ".join(topic.split()) if topic else None
        n = sentences or self.settings.summary_sentences
        why = None
        if len(pool) == 1:
            story: Story | None = pool[0]
        elif topic:
            file = topic_article(served.scope(pool), self.encoder, topic)
            story, why = (served.catalog.of_file(file) if file else None), "topic"
        else:
            story, why = served.catalog.latest(pool), "latest"
        store = served.scope([story] if story else pool)
        result = summarize(store, self.encoder, topic, n) if story else None
        if result is None or not result.covered:
            text = render(
                "not_in_story",
                citations=[],
                related=False,
                topics=topics(store, catalog=served.catalog),
                several=len(store.articles) > 1,
            )
            confidence = result.confidence if result else 0.0
            return Answer(topic or "", False, confidence, [], text, kind="declined")
        assert story is not None  # a covered summary was made of one story
        citations = [
            cite(store, i, s, served.catalog)
            for i, s in zip(result.indices, result.scores, strict=True)
        ]
        text = render(
            "summary",
            citations=citations,
            topic=topic,
            story=story.label,
            why=why,
            among=len(pool),
            picker=picker,
        )
        extra = {"story": story.id, "topic": topic}
        return Answer(
            topic or "", True, result.confidence, citations, text, kind="summary", extra=extra
        )

    def whatsnew(self, since: str | None = None, stories: Sequence[Story] = ()) -> Answer:
        """Sentences added or changed since build `since` (default: the previous update), in
        every story or in `stories` only."""
        served = self.served
        answer = whats_new(served.scope(stories), since, catalog=served.catalog)
        changed = sorted({c.story for c in answer.citations})
        scoped = [s.id for s in stories if served.catalog.of_file(s.file)]
        only = scoped if len(scoped) == 1 else changed
        extra = {
            **answer.extra,
            "story": only[0] if len(only) == 1 else None,
            "stories": changed,
        }
        return replace(answer, question="", extra=extra)


def open_engine(
    settings: BotSettings,
    encoder: Encoder | None = None,
    build_missing: bool = True,
    say: Callable[[str], None] = lambda _line: None,
) -> Engine:
    """An Engine over an up-to-date index, building it first if it is missing or stale.

    What it does on the way (building, files skipped) goes to `say`, a line at a time as it
    happens: the CLI prints it, the bot logs it. With `build_missing=False` (a worker beside a
    builder, STORYBOT_REDIS_URL) it never builds: it serves what the builder last built,
    waiting for the first build if there is none yet.
    """
    if not build_missing:
        waited = 0.0
        while current_build(settings.index) is None:
            if waited % 60 == 0:
                say(f"no index at {settings.index} yet; waiting for the builder (storybot index)")
            time.sleep(1.0)
            waited += 1.0
        return Engine(settings, encoder or query_encoder(settings))
    name = encoder.name if encoder else model_name(settings.model_path())
    if not index_is_current(settings.stories, settings.index, name) and not _beside_a_build(
        settings, say
    ):
        say(f"Building the index of {settings.stories} …")
        try:
            report, problems = build(settings, encoder)
        except EmptyCorpus:
            if current_build(settings.index) is None:
                raise
        except IndexBusy:  # another build took the lock first
            if not _beside_a_build(settings, say):
                raise
        else:
            for problem in problems:
                say(f"warning: skipped {problem}")
            say(f"Indexed {counted(report.sentences, 'sentence')}.")
    return Engine(settings, encoder or query_encoder(settings))


def _beside_a_build(settings: BotSettings, say: Callable[[str], None]) -> bool:
    """True when another process is building the index and an intact build is there to serve
    meanwhile (a reader answers from it; a bot swaps the new one in once it is done). With no
    build yet, waits for the running one; False when none runs (or it made nothing)."""
    if not build_running(settings.index):
        return False
    served = current_build(settings.index)
    if served is None:
        say(f"another build of {settings.index} is running; waiting for it")
        while build_running(settings.index):
            time.sleep(0.5)
        return current_build(settings.index) is not None  # the build it made, served now
    say(
        f"another build of {settings.index} is running; answering from build {served.name} "
        "until it is done"
    )
    return True
