"""Generated corpora for scale benchmarks: real sentences recombined into articles, seeded.

The pool is every sentence of the SQuAD contexts in `../shared/eval/squad2/` and of the seed
story. A generated sentence splices the head of one real sentence (up to a clause boundary) onto
the tail of another, so a large corpus still reads as news prose, its sentences are nearly all
distinct (as in a real archive, which matters for embedding cost and for search), and the same
seed always gives the same files. Corpora live under `var/bench/` and are never committed.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.articles import Article, load_articles
from index.splitter import split_article

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "eval" / "squad2"
SEED_STORIES = ROOT / "stories"
BENCH_DIR = ROOT / "var" / "bench"
_CUT = re.compile(r", | and | but | which | that | while | after | when ")


@dataclass(frozen=True)
class Corpus:
    """A generated stories folder and what it was generated from."""

    stories: Path
    seed: int
    articles: int
    sentences: int


def real_sentences() -> list[str]:
    """Every sentence of the SQuAD contexts and the seed story, in file order."""
    texts = [p["context"] for p in _squad_paragraphs()]
    seed, _ = load_articles(SEED_STORIES)
    squad = [Article(f"squad{i}", "", None, None, None, t, "") for i, t in enumerate(texts)]
    pool = [s.text for a in squad + seed for s in split_article(a)]
    return [s for s in dict.fromkeys(pool) if len(s) > 20]


def questions() -> list[str]:
    """SQuAD questions (answerable or not), for realistic query load."""
    return [q["question"] for p in _squad_paragraphs() for q in p["qas"]]


def _squad_paragraphs() -> list[dict[str, Any]]:
    """Every paragraph of the SQuAD dev and test files that exist, in file order."""
    out: list[dict[str, Any]] = []
    for name in ("dev.json", "test.json"):
        path = SQUAD / name
        if path.exists():
            for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
                out.extend(article["paragraphs"])
    return out


def splice(rng: random.Random, pool: list[str]) -> str:
    """One sentence: a real sentence's head joined to another's tail at a clause boundary."""
    head, tail = rng.choice(pool), rng.choice(pool)
    cuts = [m.start() for m in _CUT.finditer(head)]
    joins = [m.start() for m in _CUT.finditer(tail)]
    if not cuts or not joins:
        return head
    return head[: rng.choice(cuts)] + tail[rng.choice(joins) :]


def generate(
    n_sentences: int, seed: int = 1, max_articles: int | None = None, folder: Path | None = None
) -> Corpus:
    """Write `n_sentences` sentences (or `max_articles` articles) of 10–30-sentence articles.

    The same seed gives the same articles in the same order, whatever the size asked for.
    """
    name = f"corpus-s{seed}-n{n_sentences}" + (f"-a{max_articles}" if max_articles else "")
    folder = folder or BENCH_DIR / name
    stories = folder / "stories"
    done = folder / "generated.json"
    if done.exists():
        meta = json.loads(done.read_text())
        return Corpus(stories, seed, meta["articles"], meta["sentences"])
    rng = random.Random(seed)
    pool = real_sentences()
    stories.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    written = articles = 0
    while written < n_sentences and (max_articles is None or articles < max_articles):
        count = min(rng.randint(10, 30), n_sentences - written)
        body: list[list[str]] = [[]]
        for _ in range(count):
            sentence = splice(rng, pool)
            for _retry in range(5):
                if sentence not in seen:
                    break
                sentence = splice(rng, pool)
            seen.add(sentence)
            if len(body[-1]) >= rng.randint(3, 6):
                body.append([])
            body[-1].append(sentence)
        words = [w for w in re.findall(r"[A-Z][a-z]{3,}", " ".join(body[0])) if w != "The"]
        title = " ".join(dict.fromkeys(words[:3])) or f"Report {articles}"
        text = "\n\n".join(" ".join(p) for p in body) + "\n"
        articles += 1
        (stories / f"a{articles:06d}.md").write_text(f"---\ntitle: {title}\n---\n{text}")
        written += count
    done.write_text(json.dumps({"articles": articles, "sentences": written, "seed": seed}))
    return Corpus(stories, seed, articles, written)
