"""`python -m index [--stories DIR] [--index DIR]`: build the index without the bot.

The index library's own entry point (it never imports `bot`): the packaged model, the shipped
retrieval parameters and IndexSettings (STORYBOT_STORIES, STORYBOT_INDEX, STORYBOT_MODEL), so a
build made here is the one `storybot index` makes (less the bot's ONNX query encoder, which
`storybot run` exports on first start).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from index.builder import build_stories, counted
from index.embedder import Embedder
from index.errors import StorybotError
from index.settings import IndexSettings


def main(argv: list[str] | None = None) -> int:
    """Build; 0 on success, 1 with one line on stderr otherwise."""
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=Path, help="stories folder (STORYBOT_STORIES)")
    parser.add_argument("--index", type=Path, help="index folder (STORYBOT_INDEX)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("stories", args.stories), ("index", args.index)) if v}
    settings = IndexSettings(**overrides)
    try:
        report, problems = build_stories(
            settings.stories,
            settings.index,
            Embedder(settings.model_path()),
            settings.passage_sentences,
            progress=True,
        )
    except StorybotError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"warning: skipped {problem.path}: {problem.reason}", file=sys.stderr)
    print(
        f"Indexed {counted(report.articles, 'article')}, {counted(report.sentences, 'sentence')}"
        f" in {report.seconds:.1f} s → {settings.index}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
