"""`--index` replaces only an index: any other folder is refused (exit 2) and left as it was.

A build makes the index path a symlink into `DIR.builds/` and keeps `DIR.lock` beside it; it may
replace only what a build made (or an empty folder), and its cleanup removes only what it made.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from index.articles import Article, load_articles
from index.builder import KEEP_BUILDS, build_index, is_replaceable
from index.errors import NotAnIndex
from index.store import current_build, load_store
from support import FakeEmbedder

QUESTION = "Who is Steve Witkoff?"


class PathFakeEmbedder(FakeEmbedder):
    """The fake encoder, made the way the CLI makes its encoder: from a model folder."""

    def __init__(self, model_path: str) -> None:
        super().__init__()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI builds here embed with the fake encoder (a refusal must come before any model is
    used anyway), and export no ONNX model."""
    monkeypatch.setattr("bot.engine.Embedder", PathFakeEmbedder)
    monkeypatch.setenv("STORYBOT_QUERY_ENCODER", "torch")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def snapshot(root: Path) -> dict[str, object]:
    """Every path under `root` (hidden ones too) with its bytes or link target."""
    seen: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            seen[name] = f"-> {path.readlink()}"
        elif path.is_file():
            seen[name] = path.read_bytes()
        else:
            seen[name] = "folder"
    return seen


def assert_refused(result: Result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error: ")]  # one line
    assert words in line and result.output.rstrip().endswith(line)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "notes.txt").write_text("important\n")
    return folder


def test_index_refuses_an_unrelated_folder_and_touches_nothing(
    stories_dir: Path, victim: Path, tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    result = invoke("index", "--stories", str(stories_dir), "--index", str(victim))
    assert_refused(result, f"{victim} is a folder that is not a storybot index")
    assert snapshot(tmp_path) == before, "no file removed, no victim.builds or victim.lock made"
    assert (victim / "notes.txt").read_text() == "important\n"


def test_index_refuses_the_stories_folder_itself(stories_dir: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = invoke("index", "--stories", str(stories_dir), "--index", str(stories_dir))
    assert_refused(result, "not a storybot index")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("spelling", [".", "absolute"])
def test_index_refuses_the_current_folder(
    stories_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("important\n")
    before, beside = snapshot(tmp_path), sorted(os.listdir(tmp_path.parent))
    index = "." if spelling == "." else str(tmp_path)
    result = invoke("index", "--stories", "stories", "--index", index)
    assert_refused(result, "must name a folder" if spelling == "." else "not a storybot index")
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path.parent)) == beside


def test_ask_refuses_to_rebuild_over_an_unrelated_folder(
    stories_dir: Path, victim: Path, tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    result = invoke("ask", "--stories", str(stories_dir), "--index", str(victim), QUESTION)
    assert_refused(result, "not a storybot index")
    assert snapshot(tmp_path) == before, "not even the models/ cache beside the index"


def test_index_builds_in_an_empty_folder_and_rebuilds_over_an_index(
    stories_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "empty"
    index.mkdir()
    folders = ("--stories", str(stories_dir), "--index", str(index))
    assert invoke("index", *folders).exit_code == 0
    first = current_build(index)
    assert index.is_symlink() and first is not None
    (stories_dir / "grain.txt").write_text("Grain exports resumed on Tuesday.\n")
    rebuilt = invoke("index", *folders)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Indexed 2 articles" in rebuilt.output
    assert current_build(index) not in (None, first)
    assert first.exists(), "the previous build is kept"
    # An index copied without its link (a plain folder of one build's files) is replaced too.
    copy = tmp_path / "copied"
    shutil.copytree(index, copy)
    assert not copy.is_symlink()
    assert invoke("index", "--stories", str(stories_dir), "--index", str(copy)).exit_code == 0
    assert copy.is_symlink() and load_store(copy).manifest["counts"]["articles"] == 2


@pytest.fixture
def articles(stories_dir: Path) -> list[Article]:
    return load_articles(stories_dir)[0]


@pytest.fixture
def built(articles: list[Article], tmp_path: Path) -> Path:
    """A built index (a symlink into index.builds/)."""
    build_index(articles, tmp_path / "index", FakeEmbedder())
    return tmp_path / "index"


def test_what_counts_as_replaceable(built: Path, tmp_path: Path, stories_dir: Path) -> None:
    assert is_replaceable(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    assert is_replaceable(tmp_path / "empty")
    assert is_replaceable(built), "a link to a build"
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    assert is_replaceable(copy), "a folder of one build's files"
    (copy / "notes.txt").write_text("mine")
    assert not is_replaceable(copy), "a build folder with a file of someone else's"
    (copy / "notes.txt").unlink()
    (copy / "sub").mkdir()
    assert not is_replaceable(copy), "a build folder with a folder in it"
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "manifest.json").write_text("{}")
    assert not is_replaceable(fake), "a manifest.json that lists no build files"
    (tmp_path / "file").write_text("x")
    assert not is_replaceable(tmp_path / "file")
    assert not is_replaceable(stories_dir)
    (tmp_path / "to_stories").symlink_to(stories_dir)
    assert not is_replaceable(tmp_path / "to_stories"), "a link to something not a build"
    (tmp_path / "gone").symlink_to("gone.builds/20260101-120000.000000000")
    assert is_replaceable(tmp_path / "gone"), "a link into DIR.builds whose build was removed"
    for path in (".", "..", "/"):
        assert not is_replaceable(Path(path))
    (tmp_path / "odd.builds").write_text("not a folder")
    assert not is_replaceable(tmp_path / "odd")


def test_build_index_refuses_before_making_anything(
    articles: list[Article], victim: Path, tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    with pytest.raises(NotAnIndex):
        build_index(articles, victim, FakeEmbedder())
    assert snapshot(tmp_path) == before


def test_a_file_that_appears_during_the_build_is_not_deleted(
    articles: list[Article], tmp_path: Path
) -> None:
    index = tmp_path / "index"
    index.mkdir()

    class Meddler(FakeEmbedder):
        def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
            (index / "notes.txt").write_text("written while the build ran")
            return super().encode(texts, progress)

    with pytest.raises(NotAnIndex):
        build_index(articles, index, Meddler())
    assert (index / "notes.txt").read_text() == "written while the build ran"
    assert not index.is_symlink()


def test_cleanup_removes_only_what_builds_made(
    articles: list[Article], built: Path, tmp_path: Path
) -> None:
    builds = tmp_path / "index.builds"
    (builds / "README").write_text("someone's notes")
    (builds / "photos").mkdir()
    (builds / "photos" / "a.jpg").write_bytes(b"\xff\xd8")
    (builds / ".tmp-20250101-000000.000000001").mkdir()  # left by a killed build
    (builds / ".tmp-20250101-000000.000000001" / "articles.json").write_text("[]")
    (tmp_path / ".index.link-1").write_text("not a link")
    (tmp_path / ".index.link-2").symlink_to("index.builds")  # left by a killed build
    first = current_build(built)
    assert first is not None
    (first / "notes.txt").write_text("kept: a build folder with a stranger in it is not ours")
    for _ in range(KEEP_BUILDS + 1):
        build_index(articles, built, FakeEmbedder())
    names = sorted(p.name for p in builds.iterdir())
    ours = [n for n in names if n[0].isdigit()]
    assert len(ours) == KEEP_BUILDS + 1, "the newest builds, plus the one holding notes.txt"
    assert first.name in ours and (first / "notes.txt").exists()
    assert {"README", "photos"} <= set(names) and (builds / "photos" / "a.jpg").exists()
    assert not [n for n in names if n.startswith(".tmp-")]
    assert (tmp_path / ".index.link-1").read_text() == "not a link"
    assert not (tmp_path / ".index.link-2").is_symlink()
    assert json.loads((built / "manifest.json").read_text())["build_id"] == ours[-1]


def test_python_m_index_builds_without_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    from index.__main__ import main
    from support import SEED_STORIES

    monkeypatch.setattr("index.__main__.Embedder", PathFakeEmbedder)
    assert main(["--stories", str(SEED_STORIES), "--index", str(tmp_path / "idx")]) == 0
    assert "Indexed 1 article, " in capsys.readouterr().out
    assert (tmp_path / "idx" / "manifest.json").exists()
    # The entry point as a program: a clear error, and not one module of the bot imported on
    # the way (tests/test_architecture.py forbids index/ importing bot anywhere, too).
    code = (
        "import sys, runpy; sys.argv = ['index', '--stories', sys.argv[1]]\n"
        "try: runpy.run_module('index', run_name='__main__')\n"
        "except SystemExit as exit: code = exit.code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'bot']\n"
        "sys.exit(code)"
    )
    bad = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("Error: "), bad.stderr
    assert "Traceback" not in bad.stderr
