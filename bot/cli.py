"""The `storybot` command: a thin click shell over the index and answer functions."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.settings import BotSettings
from index.errors import StorybotError

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


def make_settings(stories: Path | None, index_dir: Path | None) -> BotSettings:
    """Settings from the environment, with command-line folders taking precedence."""
    overrides: dict[str, Any] = {}
    if stories is not None:
        overrides["stories"] = stories
    if index_dir is not None:
        overrides["index"] = index_dir
    return BotSettings(**overrides)


def _engine(settings: BotSettings) -> Any:
    from bot.engine import open_engine

    try:
        return open_engine(settings)
    except StorybotError as exc:
        raise click.ClickException(str(exc)) from exc


def _questions(args: Iterable[str]) -> Iterable[str]:
    for arg in args:
        if arg == "-":
            for line in sys.stdin:
                if line.strip():
                    yield line.rstrip("\n")
        else:
            yield arg


@click.group()
def cli() -> None:
    """storybot: answers questions about news stories, citing the sentence that says so.

    Example: storybot ask "Where were the talks held?"
    """


@cli.command("index")
@folder_options
@click.option("--strict", is_flag=True, help="Exit non-zero if any story file was skipped.")
def index_command(stories: Path | None, index_dir: Path | None, strict: bool) -> None:
    """Build the index of the stories folder.

    Example: storybot index --stories stories --index var/index
    """
    from bot.engine import build

    settings = make_settings(stories, index_dir)
    try:
        report, problems = build(settings, progress=sys.stderr.isatty())
    except StorybotError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in problems:
        click.echo(f"warning: skipped {problem}", err=True)
    click.echo(
        f"Indexed {report.articles} articles, {report.sentences} sentences, "
        f"{report.passages} passages in {report.seconds:.1f}s "
        f"({report.embedded} embedded, {report.reused} reused) → {settings.index}"
    )
    if strict and problems:
        raise click.ClickException(f"{len(problems)} story file(s) skipped (--strict)")


@cli.command()
@folder_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.argument("questions", nargs=-1, required=True)
def ask(stories: Path | None, index_dir: Path | None, as_json: bool, questions: tuple[str]) -> None:
    """Answer questions; `-` reads one question per line from stdin.

    Example: storybot ask --json "Who is Steve Witkoff?" "Why did Rubio cancel?"
    """
    from bot.templates import to_plain

    engine = _engine(make_settings(stories, index_dir))
    for question in _questions(questions):
        answer = engine.ask(question)
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            click.echo(to_plain(answer.text) + "\n")


@cli.command()
@folder_options
@click.option("--sentences", "-n", type=click.IntRange(1, 10), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("topic", nargs=-1)
def summary(
    stories: Path | None,
    index_dir: Path | None,
    sentences: int,
    as_json: bool,
    topic: tuple[str],
) -> None:
    """An extractive summary of the stories, or of what they say about TOPIC.

    Example: storybot summary ceasefire --sentences 3
    """
    from bot.templates import to_plain

    engine = _engine(make_settings(stories, index_dir))
    answer = engine.summary(" ".join(topic) or None, sentences)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        click.echo(to_plain(answer.text))


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

    Example: TELEGRAM_BOT_TOKEN=123:abc storybot run
    """
    settings = make_settings(stories, index_dir)
    if settings.token is None:
        click.echo("No TELEGRAM_BOT_TOKEN set: starting the terminal chat.", err=True)
        from bot.chat import run_chat

        run_chat(_engine(settings))
        return
    from telegram.error import InvalidToken

    from bot.app import run_bot

    try:
        run_bot(settings)
    except StorybotError as exc:
        raise click.ClickException(str(exc)) from exc
    except InvalidToken:  # its message quotes the token: never print it
        raise click.ClickException(
            "Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather"
        ) from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="storybot")
