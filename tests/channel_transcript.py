"""README's channel transcript, replayed: `storybot run` reading a channel over the fake Bot API.

    .venv/bin/python tests/channel_transcript.py

A real `storybot run` process (one worker, no Redis) long-polls the fake Bot API
(tests/fakebot.py), which plays Telegram: a channel @newsroom with a linked discussion group, its
posts and their comments. The script prints the chat as Telegram shows it, each native quote with
the reply_parameters the bot sent, and the bot's own log lines about the channel.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fakebot import BOT_USERNAME, TOKEN, FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
CHANNEL, GROUP, ADMIN = -1001987654321, -1001987654322, 4001
BRIDGE = (
    "Bridge reopens in May\n"
    "The Old Harbour bridge will reopen to traffic in May, the city said on Monday. "
    "Repairs to the deck cost 4 million euros. Tolls stay at 2 euros a crossing."
)


def show(who: str, text: str) -> None:
    lines = text.splitlines() or [""]
    print(f"{who + ':' if who else '':<10}{lines[0]}")
    for line in lines[1:]:
        print(f"{'':<10}{line}")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="storybot-channel-"))
    shutil.copytree(ROOT / "stories", folder / "stories")
    with FakeBotAPI() as api:
        api.link_discussion(CHANNEL, GROUP, username="newsroom", title="Newsroom")
        api.set_member(GROUP, ADMIN, "administrator")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.url,
            "STORYBOT_CHANNELS": "@newsroom",
            "STORYBOT_STORIES": str(folder / "stories"),
            "STORYBOT_INDEX": str(folder / "var" / "index"),
            "STORYBOT_STATE": str(folder / "var" / "state.db"),
            "STORYBOT_FOLLOW_INTERVAL": "0",
        }
        log = folder / "bot.log"
        with log.open("wb") as out:
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            replay(api, log)
        finally:
            bot.terminate()
            bot.wait(timeout=30)
    print("\nThe bot's log about the channel:")
    for line in log.read_text().splitlines():
        if "bot.telegram.channel" in line:
            stamp, _, said = line.partition(" INFO bot.telegram.channel: ")
            print(f"  {stamp.split()[-1]} {said}")
    shutil.rmtree(folder, ignore_errors=True)


def replay(api: FakeBotAPI, log: Path) -> None:
    while "storybot is polling" not in log.read_text():
        time.sleep(0.5)
    post = api.channel_post(BRIDGE, chat_id=CHANNEL)
    show("Newsroom", BRIDGE)
    while "indexed the channel posts" not in log.read_text():
        time.sleep(0.5)
    print(f"\n{'':<10}[comments on the post, in the discussion group]\n")
    said = 0
    for who, user, text in [
        ("Bob", 4002, f"@{BOT_USERNAME} how much did the repairs cost?"),
        ("Ada", ADMIN, "/comments on"),
        ("Carol", 4003, "Will the tolls go up?"),
        ("Dan", 4004, "Great news!"),
        ("Erin", 4005, f"@{BOT_USERNAME} will the tolls go up?"),
    ]:
        show(who, text)
        if text.startswith("/"):
            api.group_text(text, chat_id=GROUP, user_id=user, first_name=who)
        else:
            api.comment(text, post, user_id=user, first_name=who)
        if who in ("Carol", "Dan"):  # not addressed: a reply only when the reader is sure
            time.sleep(3)
            if len(api.sent()) > said:
                said = reply(api, said)
        else:
            said = reply(api, said)
    show("Ada", "/follow")
    api.group_text("/follow", chat_id=GROUP, user_id=ADMIN, first_name="Ada")
    said = reply(api, said)
    api.edit_channel_post(post, BRIDGE.replace("in May, the city", "in June, the city"))
    print(f"\n{'':<10}[the newsroom edits the post: the bridge reopens in June]\n")
    reply(api, said, timeout=120)


def plain(html_text: str) -> str:
    """Telegram HTML as the chat shows it: the tags dropped, the entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", html_text))


def reply(api: FakeBotAPI, said: int, timeout: float = 60) -> int:
    """Print the bot's next message in the group (with its quote), return the new count."""
    sent = api.wait_for(predicate=lambda p: p["chat_id"] == GROUP, count=said + 1, timeout=timeout)
    params = sent[said]
    quote = (params.get("reply_parameters") or {}).get("quote")
    if quote:
        show("storybot", f"┃ Newsroom: {quote}")
        print(f"{'':<10}  (the post's own sentence, highlighted; {params['reply_parameters']})")
        show("", plain(params["text"]))
    else:
        show("storybot", plain(params["text"]))
    return said + 1


if __name__ == "__main__":
    main()
