"""Scale: a 100k-sentence index served by the real engine, and FAISS alone at a million vectors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.corpus import BENCH_DIR, generate, questions
from bench.stats import pct
from bench.synthetic import MixEncoder, install_export, mix, pool_vectors, real_encoder
from bot.engine import index_is_current
from bot.settings import BotSettings
from index.articles import load_articles
from index.builder import build_index
from index.embedder import model_name
from index.search import default_params
from index.settings import packaged_model_path
from index.vectors import choose_index, make_index


def scale_settings(n_sentences: int, seed: int = 1) -> BotSettings:
    """Settings for a generated corpus of `n_sentences`, its index built (mixture vectors);
    every question answered afresh."""
    corpus = generate(n_sentences, seed)
    root = corpus.stories.parent
    settings = BotSettings(
        stories=corpus.stories,
        index=root / "var" / "index",
        state=Path(":memory:"),
        token=None,
        answer_cache=0,
    )
    name = model_name(packaged_model_path())
    if not index_is_current(settings.stories, settings.index, name):
        print(f"bench: building the {n_sentences}-sentence index (once) …", flush=True)
        articles, _ = load_articles(settings.stories)
        build_index(
            articles,
            settings.index,
            MixEncoder(name, pool_vectors()),
            passage_sentences=settings.passage_sentences,
            params=default_params(),
        )
    install_export(settings.index)
    return settings


def question_vectors(limit: int = 300) -> tuple[list[str], np.ndarray]:
    """Real SQuAD questions and their real embeddings (cached)."""
    texts = questions()[:limit]
    path = BENCH_DIR / f"question-vectors-{len(texts)}.npy"
    if path.exists():
        return texts, np.load(path)
    vectors = real_encoder().encode(texts)
    np.save(path, vectors)
    return texts, vectors


def million(n: int = 1_000_000, k: int = 10, pool_k: int = 64) -> dict[str, Any]:
    """FAISS at `n` mixture vectors: build, search p50, index memory, recall@10 vs exact."""
    rng = np.random.default_rng(2026)
    pool = pool_vectors()
    vectors = np.vstack([mix(rng, pool, min(100_000, n - i)) for i in range(0, n, 100_000)])
    _, queries = question_vectors()
    spec = choose_index(n)
    started = time.perf_counter()
    index = make_index(vectors, vectors.shape[1], spec)
    build_s = time.perf_counter() - started
    memory_mb = len(faiss.serialize_index(index)) / 2**20
    faiss.omp_set_num_threads(1)  # one question at a time, as the bot asks
    times = []
    found = np.zeros((len(queries), k), dtype=np.int64)
    for row, query in enumerate(queries):
        started = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), pool_k)
        times.append((time.perf_counter() - started) * 1000)
        found[row] = ids[0, :k]
    faiss.omp_set_num_threads(0)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    truth_scores, truth = exact.search(queries, k)
    true_found = np.take_along_axis(queries @ vectors.T, found, axis=1)
    recall = float(np.mean(true_found >= truth_scores[:, -1:] - 1e-6))
    strict = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, found, strict=True)]))
    return {
        "n": n,
        "spec": spec.to_json(),
        "build_s": build_s,
        "p50_ms": pct(times, 50),
        "p95_ms": pct(times, 95),
        "memory_mb": memory_mb,
        "recall10": recall,
        "recall10_strict": strict,
    }


def disk_mb(path: Path) -> float:
    """Size on disk of a build folder, in MB."""
    return sum(p.stat().st_size for p in path.resolve().rglob("*") if p.is_file()) / 2**20
