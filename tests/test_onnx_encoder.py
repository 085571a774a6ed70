"""The ONNX query encoder: same vectors as sentence-transformers, and no torch on the query path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.articles import load_articles
from index.embedder import Embedder
from index.onnx_encoder import OnnxEncoder, export_onnx
from index.settings import packaged_model_path
from index.splitter import split_article
from support import ROOT, SEED_STORIES

SQUAD_SAMPLE = ROOT / "tests" / "data" / "squad_sample.json"


@pytest.fixture(scope="module")
def onnx_dir() -> Path:
    """The test run's export (tests/conftest.py's STORYBOT_MODELS): made here if no test has
    made it yet, by the same code either way; these tests copy it rather than change it."""
    return export_onnx(packaged_model_path(), Path(os.environ["STORYBOT_MODELS"]))


def real_texts() -> list[str]:
    """Seed-story sentences, questions and long SQuAD paragraphs (past 256 tokens)."""
    articles, _ = load_articles(SEED_STORIES)
    texts = [s.text for a in articles for s in split_article(a)]
    texts += ["Who is Steve Witkoff?", "ok", "Why did Rubio cancel his trip to London?"]
    data = json.loads(SQUAD_SAMPLE.read_text(encoding="utf-8"))["data"]
    contexts = [p["context"] for a in data for p in a["paragraphs"]]
    texts += [*contexts, " ".join(contexts)]  # the last runs to ~800 tokens: truncated
    return texts


def test_vectors_match_sentence_transformers(onnx_dir: Path, embedder: Embedder) -> None:
    texts = real_texts()
    onnx = OnnxEncoder(onnx_dir)
    assert (onnx.name, onnx.dim) == (embedder.name, embedder.dim)
    got, expected = onnx.encode(texts), embedder.encode(texts)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * expected).sum(axis=1).min() >= 0.999


def test_token_vectors_match_sentence_transformers(onnx_dir: Path, embedder: Embedder) -> None:
    texts = real_texts()[:8]
    keep = np.ones(OnnxEncoder(onnx_dir).tokenizer.vocab_size, dtype=bool)
    vectors, pieces = OnnxEncoder(onnx_dir).encode_tokens(texts, keep)
    torch_vectors, torch_pieces = embedder.encode_tokens(texts, keep)
    for (ids, vecs), (ref_ids, ref) in zip(pieces, torch_pieces, strict=True):
        assert ids.tolist() == ref_ids.tolist() and len(ids) > 5
        assert (vecs * ref).sum(axis=1).min() >= 0.999
    assert (vectors * torch_vectors).sum(axis=1).min() >= 0.999
    assert (torch_vectors * embedder.encode(texts)).sum(axis=1).min() >= 0.999


def test_export_is_made_once_and_reused(onnx_dir: Path) -> None:
    before = (onnx_dir / "model.onnx").stat().st_mtime_ns
    assert export_onnx(packaged_model_path(), onnx_dir.parent) == onnx_dir
    assert (onnx_dir / "model.onnx").stat().st_mtime_ns == before


def test_a_second_process_waits_for_the_export_under_way_and_reuses_it(
    onnx_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl
    import shutil
    import threading

    exported: list[Path] = []
    monkeypatch.setattr("index.onnx_encoder._export", lambda _, target: exported.append(target))
    cache = tmp_path / "models"
    cache.mkdir()
    done: list[Path] = []
    with open(cache / f".{onnx_dir.name}.lock", "w") as held:  # an export under way elsewhere
        fcntl.flock(held, fcntl.LOCK_EX)
        waiter = threading.Thread(
            target=lambda: done.append(export_onnx(packaged_model_path(), cache))
        )
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive() and not done, "it waits for the lock"
        shutil.copytree(onnx_dir, cache / onnx_dir.name)  # the other process's finished export
        made = (cache / onnx_dir.name / "meta.json").stat().st_mtime_ns
    waiter.join(30)
    assert done == [cache / onnx_dir.name] and not exported, "reused, not exported again"
    assert (cache / onnx_dir.name / "meta.json").stat().st_mtime_ns == made


def test_query_path_never_imports_torch(onnx_dir: Path) -> None:
    code = (
        "import sys; from index.onnx_encoder import OnnxEncoder; "
        f"OnnxEncoder({str(onnx_dir)!r}).encode(['Who is Steve Witkoff?']); "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_the_export_is_kept_where_storybot_models_says_and_shared_by_indexes(
    onnx_dir: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.engine import build, onnx_export
    from bot.settings import BotSettings

    shared, made = onnx_dir.parent, onnx_dir
    stamp = (made / "meta.json").stat().st_mtime_ns
    monkeypatch.setenv("STORYBOT_MODELS", str(shared))
    for name in ("one", "two"):
        settings = BotSettings(stories=SEED_STORIES, index=tmp_path / name / "index", token=None)
        assert settings.models == shared
        build(settings, embedder)
        assert onnx_export(settings) == made
        assert not (tmp_path / name / "models").exists(), "nothing beside the index"
    assert (made / "meta.json").stat().st_mtime_ns == stamp, "made once, then reused"
    monkeypatch.delenv("STORYBOT_MODELS")
    beside = BotSettings(stories=SEED_STORIES, index=tmp_path / "three" / "index", token=None)
    assert beside.models is None
