"""What a rebuild takes from the build it replaces, so one changed article costs little.

Sentence splitting (pysbd, about 1 ms a sentence) is redone only for articles whose content hash
changed: the spans of unchanged articles are read back from the previous build, if it was
split at the current SPLITTER_VERSION (index/store.py), so spans the current splitter would not
produce are never reused. Articles are keyed by the hash of what was read from the file, so a
change in how a format is read re-splits it. (Vectors are reused by text hash in
`index/store.py`.)
"""

from __future__ import annotations

from pathlib import Path

from index.articles import Article
from index.manifest import manifest_or_none, read_json
from index.splitter import Sentence, split_article
from index.store import SPLITTER_VERSION

Spans = list[tuple[int, int, int]]


def previous_spans(build: Path | None) -> dict[str, Spans]:
    """Content hash → (paragraph, start, end) of each sentence, from a finished build folder."""
    if build is None:
        return {}
    try:
        manifest = manifest_or_none(build)
        if manifest is None or manifest.get("splitter") != SPLITTER_VERSION:
            return {}
        hashes = list(manifest["articles"].values())
        rows = read_json(build / "sentences.json")
    except (OSError, ValueError, KeyError, AttributeError):
        return {}
    spans: dict[str, Spans] = {}
    for article, paragraph, start, end in rows:
        spans.setdefault(hashes[article], []).append((paragraph, start, end))
    return spans


def split_all(ordered: list[Article], reuse: dict[str, Spans]) -> list[Sentence]:
    """Every article's sentences, in order, re-splitting only articles not in `reuse`."""
    sentences: list[Sentence] = []
    for article in ordered:
        spans = reuse.get(article.content_hash)
        if spans is None:
            sentences.extend(split_article(article))
        else:
            sentences.extend(
                Sentence(article.id, p, start, end, article.body[start:end])
                for p, start, end in spans
            )
    return sentences
