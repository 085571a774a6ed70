"""Index builds: sentences/s of a full build, and a rebuild after one article changed.

Both run the real `storybot index` command in a fresh process (imports, model load, splitting,
embedding with sentence-transformers, writing), so the times are what an editor waits for. The
one-time ONNX export of the query model is copied in beforehand, as it exists after a first run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.corpus import ROOT, generate
from bench.synthetic import MixEncoder, install_export, pool_vectors, real_encoder
from index.articles import load_articles
from index.builder import build_index
from index.search import default_params

STORYBOT = str(Path(sys.executable).parent / "storybot")


def storybot_index(stories: Path, index: Path) -> tuple[float, dict[str, Any]]:
    """Wall seconds of `storybot index`, and the new build's manifest counts."""
    install_export(index)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        [STORYBOT, "index", "--stories", str(stories), "--index", str(index)],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    manifest = json.loads((index / "manifest.json").read_text())
    return seconds, manifest["counts"]


def full_build(stories: Path, where: Path) -> dict[str, Any]:
    """A full build from nothing: seconds and sentences per second."""
    shutil.rmtree(where, ignore_errors=True)
    seconds, counts = storybot_index(stories, where / "var" / "index")
    return {
        "seconds": seconds,
        "sentences": counts["sentences"],
        "per_s": counts["sentences"] / seconds,
    }


def changed_article_rebuild(articles: int = 1000, seed: int = 1) -> dict[str, Any]:
    """Rebuild time after one of `articles` articles changed (the previous build pre-made)."""
    corpus = generate(10**9, seed, max_articles=articles)
    index = corpus.stories.parent / "var" / "index"
    target = sorted(corpus.stories.glob("*.md"))[articles // 2]
    backup = corpus.stories.parent / "changed.orig"
    if backup.exists():  # an interrupted run left the article changed
        target.write_text(backup.read_text())
    original = target.read_text()
    backup.write_text(original)
    listed, _ = load_articles(corpus.stories)
    encoder = MixEncoder(real_encoder().name, pool_vectors())
    # Vectors of the previous build are mixtures (see bench/synthetic.py): the rebuild only
    # needs them to be reusable, and embeds what changed with the real model.
    build_index(listed, index, encoder, params=default_params())
    news = f"A late update, filed at {time.time_ns()}, adds one new sentence to this story."
    target.write_text(f"{original}\n{news}\n")
    try:
        seconds, counts = storybot_index(corpus.stories, index)
    finally:
        target.write_text(original)
        backup.unlink()
    return {"seconds": seconds, "articles": counts["articles"], "sentences": counts["sentences"]}
