"""What a rebuild takes from the build it replaces, so one changed article costs little.

Sentence splitting (pysbd, about 1 ms a sentence) is redone only for articles whose content hash
changed: the spans of unchanged articles are read back from the previous build. A fingerprint
of the code that turns a file into sentences guards against reusing spans the current code
would not produce. (Vectors are reused by text hash in `index/store.py`.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from index import articles as articles_module
from index import splitter as splitter_module
from index.articles import Article
from index.splitter import Sentence, split_article

Spans = list[tuple[int, int, int]]


def splitter_fingerprint() -> str:
    """Hash of the code that decides sentence spans (article parsing and the splitter)."""
    digest = hashlib.sha1()
    for module in (articles_module, splitter_module):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def previous_spans(build: Path | None) -> dict[str, Spans]:
    """Content hash → (paragraph, start, end) of each sentence, from a finished build folder."""
    if build is None:
        return {}
    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("splitter") != splitter_fingerprint():
            return {}
        hashes = list(manifest["articles"].values())
        rows = json.loads((build / "sentences.json").read_text(encoding="utf-8"))
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
