"""Hot reload: a running bot swaps in a new index without a restart and without a failed answer;
the answers kept for repeated questions are per build."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter, OrderedDict
from pathlib import Path

import pytest

from bot.answer import QUOTING_KINDS
from bot.engine import Engine, build
from bot.settings import BotSettings
from bot.telegram import app as bot_app
from botrunner import running_bot
from fakebot import FakeBotAPI
from index.builder import build_lock
from index.embedder import Embedder
from index.splitter import sentence_key
from index.store import current_build
from support import FakeEmbedder, run_cli

GRAIN = "Grain exports resumed on Tuesday as ships left the port of Odesa under naval escort."
QUESTIONS = ["Which port did the grain ships leave from?", "Who is Steve Witkoff?"]
APOLOGY = "Sorry, something went wrong"


@pytest.fixture
def own_index(seed_settings: BotSettings, seed_engine: Engine, tmp_path: Path) -> BotSettings:
    """A private copy of the built seed index and its stories, free to rebuild."""
    shutil.copytree(seed_settings.stories, tmp_path / "stories")
    shutil.copytree(seed_settings.index.parent, tmp_path / "var", symlinks=True)
    return seed_settings.model_copy(
        update={"stories": tmp_path / "stories", "index": tmp_path / "var" / "index"}
    )


async def test_answers_continue_through_a_rebuild_and_then_come_from_it(
    server: FakeBotAPI,
    own_index: BotSettings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot_app, "RELOAD_SECONDS", 0.05)
    engine = Engine(own_index.model_copy(update={"rate_limit": 0}))
    old_build = engine.store.build_id
    asked = 0

    def ask(n: int) -> None:
        server.private_text(QUESTIONS[n % 2], user_id=6000 + n % 5)

    async with running_bot(server, engine.settings, engine):
        for _ in range(4):
            ask(asked)
            asked += 1
        await server.await_for("sendMessage", asked, timeout=30)
        (own_index.stories / "grain.txt").write_text(GRAIN + "\n", encoding="utf-8")
        rebuild = asyncio.create_task(asyncio.to_thread(build, own_index, embedder))
        while not rebuild.done() or engine.store.build_id == old_build:
            ask(asked)
            asked += 1
            await asyncio.sleep(0.02)
            assert asked < 2000, "the new build was never picked up"
        swapped_at = asked
        for _ in range(4):
            ask(asked)
            asked += 1
        await server.await_for("sendMessage", asked, timeout=60)
        server.wait_idle()
    sent = server.sent()
    per_question = Counter((p["chat_id"], p["reply_parameters"]["message_id"]) for p in sent)
    assert len(sent) == asked and set(per_question.values()) == {1}
    assert not any(APOLOGY in p["text"] for p in sent)
    assert [c for c in server.calls if c.method == "sendMessage" and not c.ok] == []
    grain_answers = [p["text"] for p in sent if "Odesa" in p["text"]]
    assert len(grain_answers) >= 2, "questions after the swap are answered from the new story"
    assert not any("Odesa" in p["text"] for p in sent[:4]), "and not before it"
    assert any("not in the story" in p["text"] for p in sent[:4] if p["chat_id"] == 6000)
    assert engine.store.path == current_build(own_index.index)
    assert swapped_at > 4


def test_a_damaged_new_build_is_refused_and_the_old_one_keeps_serving(
    stories_dir: Path, tmp_path: Path
) -> None:
    settings = BotSettings(stories=stories_dir, index=tmp_path / "index", token=None)
    encoder = FakeEmbedder()
    build(settings, encoder)
    engine = Engine(settings, encoder)
    before = engine.ask("Who is Steve Witkoff?").text
    (stories_dir / "grain.txt").write_text(GRAIN + "\n", encoding="utf-8")
    report, _ = build(settings, encoder)
    damaged = report.path / "sentences.faiss"
    damaged.write_bytes(damaged.read_bytes()[:-7])
    assert engine.reload_if_changed() is False
    assert engine.ask("Who is Steve Witkoff?").text == before
    report, _ = build(settings, encoder)
    assert engine.reload_if_changed() is True
    assert engine.store.path == report.path


def test_a_question_asked_again_of_one_build_is_answered_once(
    own_index: BotSettings, embedder: Embedder
) -> None:
    engine = Engine(own_index)
    first = engine.ask(QUESTIONS[0])
    assert engine.ask(QUESTIONS[0]) is first, "made once, given again"
    assert engine.ask(" " + QUESTIONS[0]) is not first, "only word for word"
    witkoff = engine.ask(QUESTIONS[1])
    quoted = witkoff.citations[0]
    passed_over = engine.ask(QUESTIONS[1], avoid=sentence_key(quoted.article, quoted.sentence))
    assert passed_over is not witkoff and engine.ask(QUESTIONS[1]) is witkoff
    (own_index.stories / "grain.txt").write_text(GRAIN + "\n", encoding="utf-8")
    build(own_index, embedder)
    assert engine.reload_if_changed()
    fresh = engine.ask(QUESTIONS[0])
    assert fresh is not first, "a new build answers afresh"
    assert not any("Odesa" in c.sentence for c in first.citations)
    assert fresh.quotes and "Odesa" in fresh.citations[0].sentence


def test_the_answer_cache_is_bounded_and_can_be_turned_off(
    seed_settings: BotSettings, seed_engine: Engine
) -> None:
    two = Engine(seed_settings.model_copy(update={"answer_cache": 2}))
    first = two.ask(QUESTIONS[1])
    two.ask("Why did Rubio cancel?")
    assert two.ask(QUESTIONS[1]) is first
    two.ask("Why did Rubio cancel?")
    two.ask("What did Trump threaten?")  # the third: the least recently asked goes
    again = two.ask(QUESTIONS[1])
    assert again is not first and again.text == first.text
    assert len(two.served.answers) == 2
    off = Engine(seed_settings.model_copy(update={"answer_cache": 0}))
    assert off.ask(QUESTIONS[1]) is not off.ask(QUESTIONS[1])
    assert off.served.answers == OrderedDict()


def test_a_reader_answers_from_the_intact_build_while_another_process_builds(
    own_index: BotSettings,
) -> None:
    (own_index.stories / "grain.txt").write_text(GRAIN + "\n", encoding="utf-8")  # now stale
    served = current_build(own_index.index)
    folders = ["--stories", str(own_index.stories), "--index", str(own_index.index)]
    with build_lock(own_index.index):  # as a `storybot index` running in another process
        result = run_cli(["ask", "--json", *folders, "Who is Steve Witkoff?"])
    assert result.exit_code == 0, result.output  # before: 1, "another build … is running"
    reply = json.loads(result.stdout)
    assert reply["kind"] in QUOTING_KINDS and "Witkoff" in reply["citations"][0]["sentence"]
    assert result.stderr.splitlines() == [
        f"another build of {own_index.index} is running; answering from build "
        f"{served.name} until it is done"  # type: ignore[union-attr]
    ]
    assert current_build(own_index.index) == served, "the reader built nothing"
