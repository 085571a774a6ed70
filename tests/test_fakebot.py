"""Tests for the fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MessageEntity,
    Update,
)
from telegram.constants import ChatMemberStatus
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from fakebot import DEFAULT_GROUP_ID, DEFAULT_USER_ID, FakeBotAPI, text_entities


def make_bot(server: FakeBotAPI, token: str | None = None) -> Bot:
    return Bot(
        token or server.token,
        base_url=f"{server.url}/bot",
        base_file_url=f"{server.url}/file/bot",
    )


@pytest.fixture
async def bot(server: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(server) as b:
        yield b


# --------------------------------------------------------------------------- basic methods
async def test_get_me(server: FakeBotAPI, bot: Bot) -> None:
    assert bot.username == "storybot_test_bot"
    assert bot.id == server.bot_id
    assert server.sent("getMe")


async def test_send_message_roundtrip(server: FakeBotAPI, bot: Bot) -> None:
    incoming = server.private_text("hi")["message"]
    msg = await bot.send_message(DEFAULT_USER_ID, "hello")
    assert msg.text == "hello"
    assert msg.message_id == incoming["message_id"] + 1
    assert msg.from_user is not None and msg.from_user.id == server.bot_id
    assert msg.chat.type == "private"
    reply = await bot.send_message(DEFAULT_USER_ID, "123", reply_to_message_id=msg.message_id)
    assert reply.text == "123"  # a numeric-looking text stays a string
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "hello"
    assert [p["text"] for p in server.sent()] == ["hello", "123"]
    assert server.sent()[0]["chat_id"] == DEFAULT_USER_ID
    assert server.bot_messages(DEFAULT_USER_ID)[1]["message_id"] == reply.message_id


async def test_send_message_validation(server: FakeBotAPI, bot: Bot) -> None:
    server.private_text("hi")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(DEFAULT_USER_ID, "x" * 4097)
    await bot.send_message(DEFAULT_USER_ID, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):  # 2 UTF-16 units each
        await bot.send_message(DEFAULT_USER_ID, "😀" * 2049)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(DEFAULT_USER_ID, "  ")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(DEFAULT_USER_ID, "1 < 2 <b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(DEFAULT_USER_ID, "x", reply_to_message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "nobody")
    ok = await bot.send_message(DEFAULT_USER_ID, "<b>fine</b> &amp; dandy", parse_mode="HTML")
    assert ok.text == "fine & dandy"
    assert len(server.sent()) == 2  # rejected calls are not "sent"
    assert len([c for c in server.calls if c.method == "sendMessage" and c.error]) == 6


async def test_get_chat_member_says_each_users_status(server: FakeBotAPI, bot: Bot) -> None:
    server.group_text("hello")
    server.set_member(DEFAULT_GROUP_ID, 2002, "administrator")
    server.set_member(DEFAULT_GROUP_ID, 2003, "creator")
    server.set_member(DEFAULT_GROUP_ID, 2004, "restricted")
    statuses = {
        user: (await bot.get_chat_member(DEFAULT_GROUP_ID, user)).status
        for user in (DEFAULT_USER_ID, 2002, 2003, 2004)
    }
    assert statuses == {
        DEFAULT_USER_ID: ChatMemberStatus.MEMBER,
        2002: ChatMemberStatus.ADMINISTRATOR,
        2003: ChatMemberStatus.OWNER,
        2004: ChatMemberStatus.RESTRICTED,
    }
    admin = await bot.get_chat_member(DEFAULT_GROUP_ID, 2002)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages
    with pytest.raises(ValueError, match="unknown status"):
        server.set_member(DEFAULT_GROUP_ID, 2005, "boss")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat_member(424242, DEFAULT_USER_ID)


async def test_blocked_deleted_and_upgraded_chats_answer_as_telegram_does(
    server: FakeBotAPI, bot: Bot
) -> None:
    server.private_text("hi")
    server.group_text("hello")
    server.group_text("hello", chat_id=-1007777777777)
    server.block(DEFAULT_USER_ID)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(DEFAULT_USER_ID, "anyone there?")
    server.forget_chat(DEFAULT_GROUP_ID)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(DEFAULT_GROUP_ID, "anyone there?")
    server.migrate(-1007777777777, -1008888888888)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-1007777777777, "anyone there?")
    assert migrated.value.new_chat_id == -1008888888888
    assert (await bot.send_message(-1008888888888, "here")).chat.id == -1008888888888
    assert [p["chat_id"] for p in server.sent()] == [-1008888888888]


async def test_edit_and_misc_methods(server: FakeBotAPI, bot: Bot) -> None:
    server.group_text("hello")
    msg = await bot.send_message(DEFAULT_GROUP_ID, "draft")
    edited = await bot.edit_message_text("final", DEFAULT_GROUP_ID, msg.message_id)
    assert not isinstance(edited, bool) and edited.text == "final"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("final", DEFAULT_GROUP_ID, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", DEFAULT_GROUP_ID, 1)
    assert await bot.send_chat_action(DEFAULT_GROUP_ID, "typing")
    assert await bot.set_my_commands([BotCommand("ask", "Ask a question")])
    assert [c.command for c in await bot.get_my_commands()] == ["ask"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    query = server.inline_query("who?")["inline_query"]
    article = InlineQueryResultArticle("1", "t", InputTextMessageContent("m"))
    assert await bot.answer_inline_query(query["id"], [article])
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_inline_query(query["id"], [article])
    assert await bot.do_api_request("someFutureMethod", {"x": 1}) is True


def test_raw_wire_formats(server: FakeBotAPI) -> None:
    server.private_text("hi")
    base = f"{server.url}/bot{server.token}"
    with httpx.Client() as client:
        r = client.post(f"{base}/sendmessage", json={"chat_id": DEFAULT_USER_ID, "text": "j"})
        assert r.json()["result"]["text"] == "j"
        r = client.post(
            f"{base}/sendDocument", data={"chat_id": "1001"}, files={"document": ("a.txt", b"ab")}
        )
        assert r.json() == {"ok": True, "result": True}
        assert client.post(f"{server.url}/nope").status_code == 404
    assert server.sent("sendDocument") == [
        {"chat_id": 1001, "document": {"filename": "a.txt", "size": 2}}
    ]


async def test_wrong_token(server: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with make_bot(server, token="999:wrong"):
            pass


# --------------------------------------------------------------------------- updates
async def test_long_poll_and_offset(server: FakeBotAPI, bot: Bot) -> None:
    timer = threading.Timer(0.3, server.private_text, args=("late",))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    timer.join()
    assert 0.25 < elapsed < 3
    assert len(updates) == 1
    assert updates[0].message is not None and updates[0].message.text == "late"
    uid = updates[0].update_id
    assert server.deliveries == {uid: 1}
    started = time.monotonic()
    assert await bot.get_updates(offset=uid + 1, timeout=1) == ()
    assert 0.8 < time.monotonic() - started < 3  # held for the timeout, then empty
    assert server.deliveries == {uid: 1}
    server.wait_idle(timeout=1)


async def test_limit_and_redelivery(server: FakeBotAPI, bot: Bot) -> None:
    ids = [server.private_text(f"m{i}")["update_id"] for i in range(3)]
    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    again = await bot.get_updates()  # nothing confirmed yet: redelivered
    assert [u.update_id for u in again] == ids
    assert await bot.get_updates(offset=ids[-1] + 1) == ()
    assert server.deliveries == {ids[0]: 2, ids[1]: 2, ids[2]: 1}


async def test_competing_pollers_conflict(server: FakeBotAPI, bot: Bot) -> None:
    held = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with make_bot(server) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await held


async def test_stop_releases_held_poll(server: FakeBotAPI, bot: Bot) -> None:
    held = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await asyncio.to_thread(server.stop)
    assert await held == ()
    assert time.monotonic() - started < 2


async def test_entities_and_builders(server: FakeBotAPI, bot: Bot) -> None:
    msg = server.group_text("/ask@storybot_test_bot hi")["message"]
    assert msg["entities"] == [{"offset": 0, "length": 22, "type": "bot_command"}]
    assert msg["chat"]["type"] == "supergroup" and msg["chat"]["id"] < 0
    mention = server.group_text("😀 hey @storybot_test_bot, /summary?")["message"]
    assert mention["entities"] == [
        {"offset": 7, "length": 18, "type": "mention"},
        {"offset": 27, "length": 8, "type": "bot_command"},
    ]
    assert text_entities("a/b email@x.org /") == []
    sent = await bot.send_message(DEFAULT_GROUP_ID, "answer")
    reply = server.group_text("why?", reply_to=server.bot_messages()[0], user_id=7)
    updates = [
        reply,
        server.sticker(DEFAULT_GROUP_ID),
        server.channel_post("news"),
        server.edited_message(msg, "/ask@storybot_test_bot edited"),
    ]
    parsed = [Update.de_json(u, bot) for u in updates]
    assert parsed[0].message is not None and parsed[0].message.reply_to_message is not None
    assert parsed[0].message.reply_to_message.message_id == sent.message_id
    assert parsed[0].message.reply_to_message.from_user == bot.bot
    assert parsed[1].message is not None and parsed[1].message.sticker is not None
    assert parsed[1].message.text is None
    assert parsed[2].channel_post is not None and parsed[2].channel_post.text == "news"
    assert parsed[3].edited_message is not None and parsed[3].edited_message.edit_date
    assert filters.COMMAND.check_update(Update.de_json(server.group_text("/ask x"), bot))


# --------------------------------------------------------------------------- faults
async def test_fault_429(server: FakeBotAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # else RetryAfter warns (an error here)
    server.private_text("hi")
    server.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(DEFAULT_USER_ID, "flood")
    assert info.value.retry_after.total_seconds() == 7  # type: ignore[union-attr]
    await bot.send_message(DEFAULT_USER_ID, "ok now")
    assert [p["text"] for p in server.sent()] == ["ok now"]
    assert [c.fault for c in server.calls if c.method == "sendMessage"] == ["429", None]


@pytest.mark.parametrize(
    ("fault", "exc", "text"),
    [
        ("500", NetworkError, "Internal Server Error"),
        ("502", NetworkError, "Bad Gateway"),
        ("400", BadRequest, "(?i)injected fault"),
        ("reset", NetworkError, "httpx"),
    ],
)
async def test_faults(
    server: FakeBotAPI, bot: Bot, fault: str, exc: type[Exception], text: str
) -> None:
    server.private_text("hi")
    server.inject("sendMessage", fault, times=2)
    for _ in range(2):
        with pytest.raises(exc, match=text) as info:
            await bot.send_message(DEFAULT_USER_ID, "x")
        assert not isinstance(info.value, BadRequest | TimedOut) or fault == "400"
    assert server.sent() == []
    await bot.send_message(DEFAULT_USER_ID, "x")
    assert len(server.sent()) == 1


async def test_fault_timeout(server: FakeBotAPI, bot: Bot) -> None:
    server.private_text("hi")
    server.inject("sendMessage", "timeout", delay=5)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(DEFAULT_USER_ID, "slow", read_timeout=0.3)
    assert time.monotonic() - started < 2
    assert server.sent() == []
    with pytest.raises(TimeoutError, match=r"sendMessage \[timeout\]"):
        await server.await_for("sendMessage", timeout=0.1)


# --------------------------------------------------------------------------- webhook
async def test_webhook_delivery(server: FakeBotAPI, bot: Bot) -> None:
    posts: list[tuple[str | None, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posts.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
            self.send_response(500 if len(posts) == 1 else 200)  # the first attempt fails
            self.send_header("Content-Length", "0")
            self.end_headers()

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        update = server.private_text("via hook")
        await asyncio.to_thread(server.wait_idle, 5)
        assert len(posts) == 2  # one failed attempt, then success
        assert all(p == ("s3cret", update) for p in posts)
        assert server.deliveries[update["update_id"]] == 2
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message and "500" in info.last_error_message
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join()


async def test_balanced_delivery_takes_turns_passes_over_a_dead_worker_and_redelivers(
    server: FakeBotAPI,
) -> None:
    posts: list[tuple[int, str | None, int]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            secret = self.headers.get("X-Telegram-Bot-Api-Secret-Token")
            posts.append((self.server.server_address[1], secret, body["update_id"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    receivers = [ThreadingHTTPServer(("127.0.0.1", 0), Receiver) for _ in range(2)]
    threads = [
        threading.Thread(target=r.serve_forever, args=(0.05,), daemon=True) for r in receivers
    ]
    for thread in threads:
        thread.start()
    with socket.socket() as closed:  # bound, never listening: a dead worker
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
        try:
            ports = [r.server_address[1] for r in receivers]
            urls = [f"http://127.0.0.1:{port}/hook" for port in ports]
            async with Bot(server.token, base_url=f"{server.url}/via-w1/bot") as labelled:
                assert await labelled.set_webhook(urls[0], secret_token="s3cret")
            assert {(c.method, c.via) for c in server.calls} == {
                ("getMe", "w1"),
                ("setWebhook", "w1"),
            }
            server.balance([urls[0], dead, urls[1]])
            ids = [server.private_text(f"question {n}")["update_id"] for n in range(4)]
            await asyncio.to_thread(server.wait_idle, 5)
            server.redeliver(ids[0])
            await asyncio.to_thread(server.wait_idle, 5)
        finally:
            for receiver, thread in zip(receivers, threads, strict=True):
                receiver.shutdown()
                receiver.server_close()
                thread.join()
    # Turns: 0, dead (passed over) → 1, 0, dead → 1; the redelivery's turn is 0's.
    assert posts == [
        (ports[0], "s3cret", ids[0]),
        (ports[1], "s3cret", ids[1]),
        (ports[0], "s3cret", ids[2]),
        (ports[1], "s3cret", ids[3]),
        (ports[0], "s3cret", ids[0]),
    ]
    assert server.served[ids[0]] == [urls[0], urls[0]]
    assert server.deliveries[ids[1]] == 2, "the dead worker's try counts as a delivery"


# --------------------------------------------------------------------------- full application
async def test_application_echo(server: FakeBotAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text)

    app = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(f"{server.url}/bot")
        .base_file_url(f"{server.url}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        update_id = server.private_text("ping")["update_id"]
        server.inject("sendMessage", "500")  # the handler's first reply fails...
        (failed,) = await server.await_for(ok_only=False)
        assert failed["text"] == "ping"
        server.private_text("pong")  # ...the next update is still answered
        (answer,) = await server.await_for(timeout=10)
        assert answer == {"chat_id": DEFAULT_USER_ID, "text": "pong"}
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    await asyncio.to_thread(server.wait_idle, 5)
    assert server.deliveries == {update_id: 1, update_id + 1: 1}


# --------------------------------------------------------------------------- channels and quotes
CHANNEL = -1002000000001
POST = "Bridge shut.\nIt reopens 🚧 in May. Tolls stay at 2 euros."


async def test_a_channel_post_is_forwarded_to_its_group_and_comments_are_in_its_thread(
    server: FakeBotAPI, bot: Bot
) -> None:
    server.link_discussion(CHANNEL, DEFAULT_GROUP_ID, username="newsroom_test")
    post = server.channel_post(POST, chat_id=CHANNEL)
    forward = server.forward_of(post)
    first = server.comment("When does it reopen?", post, user_id=7)
    server.comment("Really?", post, reply_to=first["message"], user_id=8)
    server.channel_post(caption="Crews at work.", chat_id=CHANNEL)
    server.channel_post(chat_id=CHANNEL, photo=True)
    edited = server.edit_channel_post(post, "Bridge shut.\nIt reopens in June.")
    updates = list(server.updates.values())
    parsed = [Update.de_json(u, bot) for u in updates]
    kinds = [next(k for k in u if k != "update_id") for u in updates]
    assert kinds == [
        "channel_post",
        "message",  # the automatic forward
        "message",
        "message",
        "channel_post",
        "message",
        "channel_post",
        "message",
        "edited_channel_post",
        "edited_message",  # the forward follows the edit
    ]
    channel_post, auto = parsed[0].channel_post, parsed[1].message
    assert channel_post is not None and channel_post.chat.username == "newsroom_test"
    assert channel_post.sender_chat is not None and channel_post.sender_chat.id == CHANNEL
    assert auto is not None and auto.is_automatic_forward and auto.text == POST
    assert auto.chat.id == DEFAULT_GROUP_ID and auto.from_user and auto.from_user.id == 777000
    origin = auto.forward_origin
    assert origin is not None and origin.type == "channel"
    assert origin.chat.id == CHANNEL and origin.message_id == channel_post.message_id  # type: ignore[attr-defined]
    assert auto.message_id == forward["message_id"]
    for comment, replied in ((parsed[2].message, auto), (parsed[3].message, parsed[2].message)):
        assert comment is not None and comment.message_thread_id == auto.message_id
        assert comment.reply_to_message is not None and replied is not None
        assert comment.reply_to_message.message_id == replied.message_id
    assert parsed[2].message.reply_to_message.is_automatic_forward  # type: ignore[union-attr]
    with_caption, without = parsed[4].channel_post, parsed[6].channel_post
    assert with_caption is not None and with_caption.caption == "Crews at work."
    assert with_caption.photo and with_caption.text is None
    assert without is not None and without.photo and without.caption is None
    assert edited["edited_channel_post"]["text"] == "Bridge shut.\nIt reopens in June."
    assert parsed[9].edited_message is not None
    assert parsed[9].edited_message.text == "Bridge shut.\nIt reopens in June."
    assert server.forward_of(post)["text"] == "Bridge shut.\nIt reopens in June."


async def test_a_quote_is_accepted_only_as_telegram_accepts_it(
    server: FakeBotAPI, bot: Bot
) -> None:
    from telegram import ReplyParameters

    server.link_discussion(CHANNEL, DEFAULT_GROUP_ID)
    bold = [{"offset": 0, "length": 12, "type": "bold"}, {"offset": 36, "length": 4, "type": "url"}]
    post = server.channel_post(POST, chat_id=CHANNEL, entities=bold)
    forward = server.forward_of(post)["message_id"]

    async def reply(quote: str, position: int | None = None, **more: Any) -> Any:
        parameters = ReplyParameters(forward, quote=quote, quote_position=position, **more)
        return await bot.send_message(DEFAULT_GROUP_ID, "answer", reply_parameters=parameters)

    # "It reopens 🚧 in May." starts at character 13, UTF-16 unit 13; "Tolls" after the sign,
    # at character 34 but unit 35.
    sent = await reply("Tolls stay at 2 euros.", 35)
    assert sent.quote is not None and sent.quote.text == "Tolls stay at 2 euros."
    assert sent.quote.position == 35 and sent.quote.is_manual
    assert sent.message_thread_id == forward, "a reply to the forward is in the post's thread"
    assert (await reply("It reopens 🚧 in May.")).quote.position == 13  # type: ignore[union-attr]
    refusals = [
        ("Tolls stay at 2 euros.", 34),  # counted in characters, not UTF-16 units
        ("Tolls stay at 3 euros.", 35),  # not the post's text
        ("tolls stay at 2 euros.", 35),  # not exactly
        ("Bridge shut.", 0),  # bold in the post, plain in the quote
        ("shut.\nIt reopens", 7),  # half of it is bold
    ]
    for quote, position in refusals:
        with pytest.raises(BadRequest, match="Quote not found"):
            await reply(quote, position)
    with pytest.raises(BadRequest, match=r"(?i)quote_text_invalid"):
        await reply("x" * 1025)
    formatted = await reply("Bridge shut.", 0, quote_entities=[MessageEntity("bold", 0, 12)])
    assert formatted.quote is not None and formatted.quote.entities[0].type == "bold"
    failed = [c.error for c in server.calls if c.method == "sendMessage" and not c.ok]
    assert failed == ["Bad Request: quote not found"] * 5 + ["Bad Request: QUOTE_TEXT_INVALID"]


# --------------------------------------------------------------------------- inline keyboards
def buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def test_a_press_arrives_as_a_callback_query_answered_once(
    server: FakeBotAPI, bot: Bot
) -> None:
    server.private_text("hi")
    markup = buttons([("Context", "ctx:0:1"), ("👍", "up:0:1")])
    sent = await bot.send_message(DEFAULT_USER_ID, "<b>answer</b>", "HTML", reply_markup=markup)
    assert sent.reply_markup == markup
    update = server.press(server.bot_messages()[0], "👍", user_id=77)
    query = Update.de_json(update, bot).callback_query
    assert query is not None and query.data == "up:0:1" and query.from_user.id == 77
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Counted")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(KeyError, match="no button 'Nope'"):
        server.press(server.bot_messages()[0], "Nope")
    again = Update.de_json(server.press(server.bot_messages()[0], "Context"), bot).callback_query
    assert again is not None
    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(again.id, text="x" * 201)
    assert [a.get("text") for a in server.callback_answers()] == ["Counted"]


async def test_callback_data_over_64_bytes_is_refused(server: FakeBotAPI, bot: Bot) -> None:
    server.private_text("hi")
    fits = buttons([("ok", "é" * 32)])  # 64 bytes in UTF-8
    sent = await bot.send_message(DEFAULT_USER_ID, "a", reply_markup=fits)
    too_long = buttons([("no", "é" * 32 + "x")])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(DEFAULT_USER_ID, "b", reply_markup=too_long)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.edit_message_text("c", DEFAULT_USER_ID, sent.message_id, reply_markup=too_long)
    plain = InlineKeyboardMarkup([[InlineKeyboardButton("text only", url=None)]])
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(DEFAULT_USER_ID, "d", reply_markup=plain)
    assert [p["text"] for p in server.sent()] == ["a"]


async def test_edits_replace_or_remove_the_keyboard_and_refuse_what_changes_nothing(
    server: FakeBotAPI, bot: Bot
) -> None:
    incoming = server.group_text("hello")["message"]
    first, second = buttons([("A", "a")]), buttons([("B", "b")])
    msg = await bot.send_message(DEFAULT_GROUP_ID, "<i>x</i>", "HTML", reply_markup=first)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<i>x</i>", DEFAULT_GROUP_ID, msg.message_id, parse_mode="HTML", reply_markup=first
        )
    # The same text in another formatting, or another keyboard, is a change.
    bold = await bot.edit_message_text(
        "<b>x</b>", DEFAULT_GROUP_ID, msg.message_id, parse_mode="HTML", reply_markup=first
    )
    assert not isinstance(bold, bool) and bold.reply_markup == first
    swapped = await bot.edit_message_reply_markup(
        DEFAULT_GROUP_ID, msg.message_id, reply_markup=second
    )
    assert not isinstance(swapped, bool) and swapped.reply_markup == second and swapped.text == "x"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(DEFAULT_GROUP_ID, msg.message_id, reply_markup=second)
    # An edit of the text without a keyboard takes the keyboard away, as Telegram does.
    bare = await bot.edit_message_text(
        "<b>x</b>", DEFAULT_GROUP_ID, msg.message_id, parse_mode="HTML"
    )
    assert not isinstance(bare, bool) and bare.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(DEFAULT_GROUP_ID, msg.message_id)
    # A keyboard on a message the bot cannot edit (a member's) is refused.
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_reply_markup(
            DEFAULT_GROUP_ID, incoming["message_id"], reply_markup=first
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_reply_markup(DEFAULT_GROUP_ID, 999, reply_markup=first)
    pressed = server.callback_query(server.bot_messages()[0], "stale")["callback_query"]
    assert pressed["message"]["text"] == "x" and "reply_markup" not in pressed["message"]
