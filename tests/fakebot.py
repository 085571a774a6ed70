"""A small, faithful fake of the Telegram Bot API HTTP server for end-to-end tests.

Point a real python-telegram-bot client at it::

    with FakeBotAPI() as server:
        app = (ApplicationBuilder().token(server.token).base_url(f"{server.url}/bot")
               .base_file_url(f"{server.url}/file/bot").build())

It speaks the wire protocol PTB uses (``POST /bot<token>/<method>`` with form-encoded,
multipart or JSON bodies; nested values are JSON strings), long-polls ``getUpdates`` like
Telegram (offset confirmation, limit, timeout, 409 on a competing poller or while a webhook is
set), pushes updates to a local webhook, validates ``sendMessage`` texts (empty, too long,
Telegram-HTML) and records every call. Faults (500/502/429/400/timeout/reset) can be injected.
Group messages are all delivered (as if privacy mode were off). ``getChatMember`` answers each
user's status (``member`` unless ``set_member`` says otherwise); a chat can block the bot
(403 Forbidden), vanish (400 chat not found) or be upgraded to a supergroup (400 with
``migrate_to_chat_id``). Only 127.0.0.1 is contacted.

Channels: ``channel_post`` and ``edit_channel_post`` send ``channel_post`` and
``edited_channel_post`` updates (text, or a photo with a caption, with formatting entities); a
channel given a discussion group by ``link_discussion`` has each post forwarded there
automatically (``is_automatic_forward``, ``forward_origin``, edited along with the post), and
``comment`` writes in a post's thread (``message_thread_id``, as replies in it get too).
``reply_parameters.quote`` is checked as Telegram checks it: the exact text of the replied-to
message at ``quote_position`` (UTF-16 code units), with the same bold, italic, underline,
strikethrough, spoiler and custom-emoji formatting, at most 1024 characters; else 400
``quote not found`` (``QUOTE_TEXT_INVALID`` when too long).

Several workers: ``balance(urls)`` makes the webhook delivery a per-request balancer in front of
them, each update POSTed to the next URL in turn on a new connection (one that refuses the
connection is passed over for the next, as a balancer does; ``served`` says who took each
update), and ``redeliver(update_id)`` sends an update again, as Telegram does when it got no
200. A client whose base URL is ``<url>/via-<label>`` has its calls recorded with that ``via``,
so a test can tell which worker sent what.

Inline keyboards (the block "inline keyboards and button presses"): ``press(message, label)``
pushes the ``callback_query`` update a tap on a button of a bot message sends (``callback_query``
for any data); ``answerCallbackQuery`` answers each query once, with a notice of at most 200
characters; ``editMessageText`` and ``editMessageReplyMarkup`` replace or remove a message's
keyboard as Telegram does (an edit without ``reply_markup`` removes it). Rejected as Telegram
rejects them: callback data over 64 bytes (``BUTTON_DATA_INVALID``), an edit that leaves the
text, its formatting and the keyboard as they were ("message is not modified"), and an edit or a
keyboard on a message the bot cannot edit (not its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import http.client
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from telegram_html import parse_html

log = logging.getLogger(__name__)

JSON = dict[str, Any]
# The fake bot's identity; every test server has it unless a test needs another token.
TOKEN = "123456789:AAFakeStorybotTestToken_0123456789ab"
BOT_USERNAME = "storybot_test_bot"
FAULTS = frozenset({"500", "502", "429", "400", "timeout", "reset"})
DEFAULT_USER_ID = 1001
DEFAULT_GROUP_ID = -1001234567890
DEFAULT_CHANNEL_ID = -1009876543210
# Telegram's service account: the sender of a channel post's automatic forward to its group.
SERVICE_USER = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
# Formatting a reply's quote must carry as the quoted part of the message has it (Bot API).
QUOTED_FORMATTING = frozenset(
    "bold italic underline strikethrough spoiler custom_emoji date_time".split()
)
QUOTE_LIMIT = 1024
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a specified content and reply markup of the message"
)
# Parameters that are plain strings on the wire and must never be JSON-decoded ("123" stays str).
_STRING_PARAMS = frozenset(
    "text caption query parse_mode url secret_token callback_query_id inline_query_id "
    "inline_message_id action next_offset description short_description name title "
    "language_code business_connection_id emoji message_effect_id switch_pm_text".split()
)
_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{4,32}(?!\w)")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for limits/offsets."""
    return len(text.encode("utf-16-le")) // 2


def text_entities(text: str) -> list[JSON]:
    """Entities Telegram computes for an incoming text: bot commands and @mentions (UTF-16)."""
    found = [("bot_command", m) for m in _COMMAND_RE.finditer(text)]
    found += [("mention", m) for m in _MENTION_RE.finditer(text)]
    found.sort(key=lambda item: item[1].start())
    return [
        {"offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0]), "type": kind}
        for kind, m in found
    ]


# --------------------------------------------------------------------------- server
@dataclass
class Call:
    """One recorded Bot API request. ``ok`` is False if it was faulted or answered an error."""

    method: str
    params: JSON
    time: float
    fault: str | None = None
    error: str | None = None
    result: Any = None
    via: str | None = None  # the label of a ``<url>/via-<label>/bot…`` base URL

    @property
    def ok(self) -> bool:
        return self.fault is None and self.error is None


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeBotAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fakebot: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silence http.server's per-request stderr logging

    def do_POST(self) -> None:
        self.server.api._serve(self)

    do_GET = do_POST

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the client went away (broken pipe / reset)
            super().finish()


def _parse_body(handler: BaseHTTPRequestHandler, body: bytes) -> JSON:
    ctype = handler.headers.get("Content-Type", "")
    raw: list[tuple[str, Any]] = parse_qsl(urlsplit(handler.path).query, keep_blank_values=True)
    if ctype.startswith("application/json"):
        return {**dict(raw), **json.loads(body or b"{}")}
    if ctype.startswith("multipart/form-data"):
        head = f"Content-Type: {ctype}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in msg.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            data = part.get_payload(decode=True)
            size = len(data) if isinstance(data, bytes) else 0
            filename = part.get_filename()
            raw.append((name, {"filename": filename, "size": size} if filename else data))
    else:
        raw += parse_qsl(body.decode(), keep_blank_values=True)
    params: JSON = {}
    for key, value in raw:
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str) and key not in _STRING_PARAMS:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params


class FakeBotAPI:
    """Fake Bot API server on 127.0.0.1:<random port>; use as a context manager or start/stop."""

    def __init__(
        self,
        token: str = TOKEN,
        username: str = BOT_USERNAME,
        first_name: str = "Storybot Test",
    ) -> None:
        self.token, self.username, self.first_name = token, username, first_name
        self.bot_id = int(token.split(":", 1)[0])
        self.url = ""
        self.calls: list[Call] = []
        self.deliveries: dict[int, int] = {}
        self.updates: dict[int, JSON] = {}  # every update pushed, by id (for redelivery)
        self.served: dict[int, list[str]] = {}  # update id → the balanced URLs that took it
        self.webhook: JSON = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._queue: list[JSON] = []
        self._next_update_id = 1
        self._poll_gen = 0
        self._active = 0
        self._chats: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._open_queries: set[str] = set()
        self._sources: dict[tuple[int, int], tuple[str, str]] = {}  # a bot message's markup
        self._members: dict[tuple[int, int], str] = {}
        self._blocked: dict[int, str] = {}
        self._migrated: dict[int, int] = {}
        self._discussion: dict[int, int] = {}  # channel id → its linked discussion group
        self._forwards: dict[tuple[int, int], int] = {}  # (channel, post) → forward in the group
        self._faults: dict[str, list[tuple[str, int, float]]] = {}
        self._targets: list[str] = []
        self._turn = 0
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeBotAPI:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._threads = [
            threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._webhook_loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(5)
        with self._cond:  # let held requests (woken above) finish writing
            self._cond.wait_for(lambda: self._active == 0, timeout=5)
        self._server = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers
    def inject(
        self, method: str, fault: str, times: int = 1, retry_after: int = 1, delay: float = 0.0
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``fault`` (see FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if fault == "timeout" and delay <= 0:
            delay = 30.0
        with self._cond:
            self._faults.setdefault(method, []).extend([(fault, retry_after, delay)] * times)

    def set_member(self, chat_id: int, user_id: int, status: str = "administrator") -> None:
        """What ``getChatMember`` says of ``user_id`` in ``chat_id``: ``creator``,
        ``administrator``, ``member``, ``restricted``, ``left`` or ``kicked``."""
        if status not in _MEMBER_FIELDS:
            raise ValueError(f"unknown status {status!r}; expected one of {sorted(_MEMBER_FIELDS)}")
        with self._cond:
            self._members[(chat_id, user_id)] = status

    def block(self, chat_id: int) -> None:
        """The user blocked the bot (private chat) or the bot was removed (group): from now on
        sending there is 403 Forbidden, as Telegram words it for that kind of chat."""
        what = (
            "bot was blocked by the user"
            if chat_id > 0
            else "bot was kicked from the supergroup chat"
        )
        with self._cond:
            self._blocked[chat_id] = f"Forbidden: {what}"

    def forget_chat(self, chat_id: int) -> None:
        """The chat was deleted: from now on it is 400 "chat not found"."""
        with self._cond:
            self._chats.pop(chat_id, None)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group was upgraded to a supergroup with a new id: sending to the old id is 400
        with ``migrate_to_chat_id``; the new id works."""
        with self._cond:
            old = self._chats[chat_id]
            self._chats[new_chat_id] = {**old, "id": new_chat_id, "type": "supergroup"}
            self._migrated[chat_id] = new_chat_id

    def balance(self, urls: list[str]) -> None:
        """Deliver webhook updates to ``urls`` round-robin instead of the registered URL (with
        its secret), as a balancer in front of several workers would; [] undoes it."""
        with self._cond:
            self._targets, self._turn = list(urls), 0
            self._cond.notify_all()

    def redeliver(self, update_id: int) -> None:
        """Send an already delivered update again, same id and all (Telegram got no 200)."""
        with self._cond:
            self._queue.append(self.updates[update_id])
            self._cond.notify_all()

    def sent(self, method: str = "sendMessage") -> list[JSON]:
        """Params of the successful (not faulted, not rejected) calls of ``method``."""
        with self._cond:
            return [c.params for c in self.calls if c.method == method and c.ok]

    def bot_messages(self, chat_id: int | None = None) -> list[JSON]:
        """Message objects returned by successful sendMessage calls (usable as ``reply_to``)."""
        with self._cond:
            calls = [c for c in self.calls if c.method == "sendMessage" and c.ok]
        return [c.result for c in calls if chat_id in (None, c.result["chat"]["id"])]

    def wait_for(
        self,
        method: str = "sendMessage",
        count: int = 1,
        timeout: float = 30.0,
        predicate: Callable[[JSON], bool] | None = None,
        ok_only: bool = True,
    ) -> list[JSON]:
        """Block until >= ``count`` matching calls were recorded; return all their params."""

        def matching() -> list[JSON]:
            return [
                c.params
                for c in self.calls
                if c.method == method
                and (c.ok or not ok_only)
                and (predicate is None or predicate(c.params))
            ]

        with self._cond:
            if self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                return matching()
            got = [
                f"{c.method}{'' if c.ok else f' [{c.fault or c.error}]'}"
                f"{': ' + repr(c.params.get('text'))[:80] if 'text' in c.params else ''}"
                for c in self.calls
                if c.method != "getUpdates"
            ]
            raise TimeoutError(
                f"expected {count} {method} call(s) within {timeout}s, got "
                f"{len(matching())}; calls received (getUpdates omitted): {got}"
            )

    async def await_for(
        self,
        method: str = "sendMessage",
        count: int = 1,
        timeout: float = 30.0,
        predicate: Callable[[JSON], bool] | None = None,
        ok_only: bool = True,
    ) -> list[JSON]:
        return await asyncio.to_thread(self.wait_for, method, count, timeout, predicate, ok_only)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until every pushed update has been confirmed (or delivered to the webhook)."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._queue, timeout=timeout):
                raise TimeoutError(
                    f"updates still pending: {[u['update_id'] for u in self._queue]}"
                )

    # ------------------------------------------------------------------ update builders
    def push_update(self, update: JSON) -> int:
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            update["update_id"] = update_id
            self.updates[update_id] = update
            self._queue.append(update)
            self.deliveries[update_id] = 0
            self._cond.notify_all()
        return update_id

    def user(self, user_id: int = DEFAULT_USER_ID, first_name: str = "Alice") -> JSON:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "username": f"{first_name.lower()}{user_id}",
            "language_code": "en",
        }

    def _message(
        self,
        chat: JSON,
        sender: JSON | None,
        text: str | None = None,
        reply_to: JSON | int | None = None,
        entities: list[JSON] | None = None,
        **extra: Any,
    ) -> JSON:
        with self._cond:
            self._chats.setdefault(chat["id"], chat)
            message_id = self._next_message_id.get(chat["id"], 1)
            self._next_message_id[chat["id"]] = message_id + 1
            msg: JSON = {"message_id": message_id, "date": int(time.time()), "chat": chat}
            msg.update({"from": sender} if sender else {"sender_chat": chat})
            if text is not None:
                msg["text"] = text
                if entities := text_entities(text) if entities is None else entities:
                    msg["entities"] = entities
            msg.update(extra)
            if reply_to is not None:
                ref = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
                target = self._messages.get((chat["id"], ref))
                if target is None:
                    raise KeyError(f"no message {ref} in chat {chat['id']}")
                msg["reply_to_message"] = {
                    k: v for k, v in target.items() if k != "reply_to_message"
                }
                # A reply to a post's automatic forward, or to a message in its thread, is in
                # the post's thread (its comments).
                thread = target.get("message_thread_id") or (
                    target["message_id"] if target.get("is_automatic_forward") else None
                )
                if thread and "message_thread_id" not in msg:
                    msg["message_thread_id"] = thread
            self._messages[(chat["id"], message_id)] = msg
        return msg

    @staticmethod
    def _private(user: JSON) -> JSON:
        return {
            "id": user["id"],
            "type": "private",
            "first_name": user["first_name"],
            "username": user["username"],
        }

    def _group(self, chat_id: int, title: str | None = None) -> JSON:
        known = self._chats.get(chat_id)
        return known or {"id": chat_id, "type": "supergroup", "title": title or "Test Group"}

    def private_text(
        self,
        text: str,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = "Alice",
        reply_to: JSON | int | None = None,
    ) -> JSON:
        user = self.user(user_id, first_name)
        update = {"message": self._message(self._private(user), user, text, reply_to)}
        self.push_update(update)
        return update

    def group_text(
        self,
        text: str,
        chat_id: int = DEFAULT_GROUP_ID,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = "Alice",
        entities: list[JSON] | None = None,
        reply_to: JSON | int | None = None,
        title: str | None = None,
    ) -> JSON:
        user = self.user(user_id, first_name)
        msg = self._message(self._group(chat_id, title), user, text, reply_to, entities=entities)
        update = {"message": msg}
        self.push_update(update)
        return update

    # ------------------------------------------------------------------ channels
    def link_discussion(
        self,
        channel_id: int = DEFAULT_CHANNEL_ID,
        group_id: int = DEFAULT_GROUP_ID,
        username: str | None = None,
        title: str = "Test Channel",
    ) -> JSON:
        """Make the channel (with its @username, if given) and link its discussion group: its
        posts are forwarded there automatically from now on. Returns the channel's chat."""
        chat: JSON = {"id": channel_id, "type": "channel", "title": title}
        if username:
            chat["username"] = username
        with self._cond:
            self._chats[channel_id] = chat
            self._discussion[channel_id] = group_id
        return chat

    def _channel(self, chat_id: int) -> JSON:
        with self._cond:
            return self._chats.get(chat_id) or {
                "id": chat_id,
                "type": "channel",
                "title": "Test Channel",
            }

    @staticmethod
    def _content(
        text: str | None, caption: str | None, entities: list[JSON] | None, photo: bool
    ) -> JSON:
        """A message's content fields: text and entities, or a photo with its caption."""
        if text is not None:
            return {"text": text, **({"entities": entities} if entities else {})}
        content: JSON = {}
        if photo or caption is not None:
            content["photo"] = [
                {
                    "file_id": "AgACAgIAAxkBAAE",
                    "file_unique_id": "AQADfake",
                    "width": 90,
                    "height": 60,
                    "file_size": 1024,
                }
            ]
        if caption is not None:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def channel_post(
        self,
        text: str | None = None,
        chat_id: int = DEFAULT_CHANNEL_ID,
        caption: str | None = None,
        entities: list[JSON] | None = None,
        photo: bool = False,
    ) -> JSON:
        """A post in the channel: a text (with `entities`, else the commands and mentions
        Telegram finds), or a photo with or without a `caption`. With a linked discussion group
        its automatic forward follows (``forward_of``)."""
        chat = self._channel(chat_id)
        content = {} if text is not None else self._content(None, caption, entities, photo)
        msg = self._message(chat, None, text, entities=entities if text else [], **content)
        update = {"channel_post": msg}
        self.push_update(update)
        group_id = self._discussion.get(chat_id)
        if group_id is not None:
            forward = self._message(
                self._group(group_id),
                SERVICE_USER,
                text,
                entities=msg.get("entities", []),
                sender_chat=chat,
                is_automatic_forward=True,
                forward_origin={
                    "type": "channel",
                    "chat": chat,
                    "message_id": msg["message_id"],
                    "date": msg["date"],
                },
                **content,
            )
            with self._cond:
                self._forwards[(chat_id, msg["message_id"])] = forward["message_id"]
            self.push_update({"message": forward})
        return update

    def forward_of(self, post: JSON) -> JSON:
        """The automatic forward of a channel post (an update or a message) in its group."""
        message = post.get("channel_post") or post
        channel = message["chat"]["id"]
        with self._cond:
            forward_id = self._forwards[(channel, message["message_id"])]
            return self._messages[(self._discussion[channel], forward_id)]

    def edit_channel_post(
        self,
        post: JSON,
        text: str | None = None,
        caption: str | None = None,
        entities: list[JSON] | None = None,
        notify: bool = True,
    ) -> JSON:
        """Edit a channel post (an update or a message), and its automatic forward with it, as
        Telegram does; `notify=False` changes both without sending the updates (a bot that was
        down, or lost them, never hears of the edit)."""
        message = post.get("channel_post") or post
        key = (message["chat"]["id"], message["message_id"])
        with self._cond:
            current = self._messages[key]
        content = self._content(text, caption, entities, "photo" in current)
        stale = ("text", "entities", "caption", "caption_entities")
        edited = {k: v for k, v in current.items() if k not in stale}
        edited.update(content, edit_date=int(time.time()))
        updates = [{"edited_channel_post": edited}]
        with self._cond:
            self._messages[key] = edited
            forward_id = self._forwards.get(key)
            if forward_id is not None:
                group_key = (self._discussion[key[0]], forward_id)
                forward = {k: v for k, v in self._messages[group_key].items() if k not in stale}
                forward.update(content, edit_date=edited["edit_date"])
                self._messages[group_key] = forward
                updates.append({"edited_message": forward})
        if notify:
            for update in updates:
                self.push_update(update)
        return updates[0]

    def comment(
        self,
        text: str,
        post: JSON,
        reply_to: JSON | None = None,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = "Alice",
        entities: list[JSON] | None = None,
    ) -> JSON:
        """A comment on a channel post, in its discussion group: a reply to the post's automatic
        forward, or to `reply_to` (a message in the post's thread)."""
        forward = self.forward_of(post)
        user = self.user(user_id, first_name)
        target = reply_to or forward
        msg = self._message(forward["chat"], user, text, target, entities=entities)
        update = {"message": msg}
        self.push_update(update)
        return update

    def sticker(
        self, chat_id: int = DEFAULT_USER_ID, user_id: int | None = None, emoji: str = "👍"
    ) -> JSON:
        """A sticker (a message without text) in a private chat (chat_id > 0) or a group."""
        user = self.user(user_id or (chat_id if chat_id > 0 else DEFAULT_USER_ID))
        chat = self._group(chat_id) if chat_id < 0 else self._private(user)
        sticker = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgADfake",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        update = {"message": self._message(chat, user, None, sticker=sticker)}
        self.push_update(update)
        return update

    def edited_message(self, message: JSON, text: str) -> JSON:
        """An edit of an earlier incoming ``message`` (as returned inside a builder's update)."""
        edited = {**message, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        if entities := text_entities(text):
            edited["entities"] = entities
        with self._cond:
            self._messages[(message["chat"]["id"], message["message_id"])] = edited
        update = {"edited_message": edited}
        self.push_update(update)
        return update

    def inline_query(self, query: str, user_id: int = DEFAULT_USER_ID, offset: str = "") -> JSON:
        with self._cond:
            query_id = f"{user_id}{self._next_update_id:08d}"
            self._open_queries.add(query_id)
        update = {
            "inline_query": {
                "id": query_id,
                "from": self.user(user_id),
                "query": query,
                "offset": offset,
                "chat_type": "private",
            }
        }
        self.push_update(update)
        return update

    # ------------------------------------------------------------------ HTTP plumbing
    def _serve(self, handler: _Handler) -> None:
        with self._cond:
            self._active += 1
        try:
            self._serve_request(handler)
        except OSError:  # client went away mid-response
            pass
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _serve_request(self, handler: _Handler) -> None:
        started = time.time()
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        match = re.fullmatch(r"(?:/via-([\w-]+))?/bot([^/]+)/(\w+)/?", urlsplit(handler.path).path)
        if match is None:
            return self._reply(
                handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
        via, token, method = match.groups()
        method = _METHODS.get(method.lower(), method)
        params = _parse_body(handler, body)
        if token != self.token:
            self._record(Call(method, params, started, error="Unauthorized", via=via))
            return self._reply(
                handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        with self._cond:
            pending = self._faults.get(method)
            fault = pending.pop(0) if pending else None
        if fault is not None:
            kind, retry_after, delay = fault
            self._record(Call(method, params, started, fault=kind, via=via))
            if delay > 0:
                self._stopping.wait(delay)
            if kind in ("timeout", "reset") or self._stopping.is_set():
                # Abort the connection with an RST and no response at all.
                handler.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                handler.close_connection = True
                handler.connection.close()
                return None
            code = int(kind)
            payload: JSON = {
                "ok": False,
                "error_code": code,
                "description": {
                    400: "Bad Request: injected fault",
                    500: "Internal Server Error",
                    502: "Bad Gateway",
                    429: f"Too Many Requests: retry after {retry_after}",
                }[code],
            }
            if code == 429:
                payload["parameters"] = {"retry_after": retry_after}
            return self._reply(handler, code, payload)
        call = Call(method, params, started, via=via)
        try:
            handle = getattr(self, f"_api_{method}", None)
            if handle is None:
                log.warning(
                    "fakebot: unimplemented method %s(%s) answered with true", method, params
                )
                call.result = True
            else:
                call.result = handle(params)
            status, payload = 200, {"ok": True, "result": call.result}
        except ApiError as exc:
            call.error = exc.description
            status, payload = (
                exc.code,
                {"ok": False, "error_code": exc.code, "description": exc.description},
            )
            if exc.parameters:
                payload["parameters"] = exc.parameters
        self._record(call)
        return self._reply(handler, status, payload)

    def _reply(self, handler: _Handler, status: int, payload: JSON) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _webhook_loop(self) -> None:
        backoff = 0.05
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: (
                        self._stopping.is_set() or (self.webhook.get("local") and bool(self._queue))
                    )
                )
                if self._stopping.is_set():
                    return
                update, hook = self._queue[0], dict(self.webhook)
                targets = self._targets or [hook["url"]]
            error = "no worker"
            for _ in targets:  # a balancer passes a refused connection on to the next worker
                with self._cond:
                    url = targets[self._turn % len(targets)]
                    self._turn += 1
                    self.deliveries[update["update_id"]] += 1
                error = _post_json(url, update, hook.get("secret_token"))
                if error is None or not error.startswith("Connection failed"):
                    break
            with self._cond:
                if error is None:
                    if self._targets:
                        self.served.setdefault(update["update_id"], []).append(url)
                    if update in self._queue:  # the first copy, if it was redelivered too
                        self._queue.remove(update)
                    self._cond.notify_all()
                elif self.webhook.get("url") == hook["url"]:
                    self.webhook.update(last_error_date=int(time.time()), last_error_message=error)
            if error is not None:
                self._stopping.wait(backoff)
            backoff = 0.05 if error is None else min(backoff * 2, 1.0)

    # ------------------------------------------------------------------ Bot API methods
    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def _chat(self, chat_id: Any) -> JSON:
        with self._cond:
            known = next((k for k in self._blocked if chat_id in (k, str(k))), None)
            if known is not None:
                raise ApiError(403, self._blocked[known])
            moved = next((k for k in self._migrated if chat_id in (k, str(k))), None)
            if moved is not None:
                raise ApiError(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[moved]},
                )
            for chat in self._chats.values():
                if chat_id in (chat["id"], str(chat["id"]), f"@{chat.get('username')}"):
                    return chat
        raise ApiError(400, "Bad Request: chat not found")

    def _check_text(self, text: str, parse_mode: str | None) -> str:
        plain = text
        if (parse_mode or "").lower() == "html":
            plain, error = parse_html(text)
            if error:
                raise ApiError(400, error)
        elif parse_mode and parse_mode.lower() not in ("markdown", "markdownv2"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return plain

    def _api_getMe(self, p: JSON) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_getUpdates(self, p: JSON) -> list[JSON]:
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + max(float(p.get("timeout") or 0), 0.0)
        with self._cond:
            if self.webhook.get("url"):
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is "
                    "active; use deleteWebhook to delete the webhook first",
                )
            self._poll_gen += 1
            generation = self._poll_gen
            self._cond.notify_all()
            if offset < 0:
                del self._queue[:offset]
            else:
                self._queue = [u for u in self._queue if u["update_id"] >= offset]
            self._cond.notify_all()
            while not self._queue and not self._stopping.is_set():
                if generation != self._poll_gen:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make "
                        "sure that only one bot instance is running",
                    )
                if (remaining := deadline - time.monotonic()) <= 0:
                    break
                self._cond.wait(remaining)
            batch = self._queue[:limit]
            for update in batch:
                self.deliveries[update["update_id"]] += 1
            return batch

    def _api_setWebhook(self, p: JSON) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return self._api_deleteWebhook(p)
        parts = urlsplit(url)
        local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
        if parts.scheme != "https" and not local:
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if not local:
            log.warning("fakebot: webhook %s is not local http; updates are not delivered", url)
        with self._cond:
            if p.get("drop_pending_updates"):
                self._queue.clear()
            self.webhook = {
                "url": url,
                "secret_token": secret,
                "local": local,
                "allowed_updates": p.get("allowed_updates"),
            }
            self._cond.notify_all()
        return True

    def _api_deleteWebhook(self, p: JSON) -> bool:
        with self._cond:
            self.webhook = {}
            if p.get("drop_pending_updates"):
                self._queue.clear()
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, p: JSON) -> JSON:
        with self._cond:
            info = {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._queue),
            }
            for key in ("last_error_date", "last_error_message", "allowed_updates"):
                if self.webhook.get(key):
                    info[key] = self.webhook[key]
            return info

    @staticmethod
    def _commands_key(p: JSON) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def _api_setMyCommands(self, p: JSON) -> bool:
        commands = p.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        with self._cond:
            self.commands[self._commands_key(p)] = commands
        return True

    def _api_getMyCommands(self, p: JSON) -> list[JSON]:
        with self._cond:
            return self.commands.get(self._commands_key(p), [])

    def _api_deleteMyCommands(self, p: JSON) -> bool:
        with self._cond:
            self.commands.pop(self._commands_key(p), None)
        return True

    def _api_sendMessage(self, p: JSON) -> JSON:
        chat = self._chat(p.get("chat_id"))
        text = self._check_text(str(p.get("text") or ""), p.get("parse_mode"))
        reply = p.get("reply_parameters") or {}
        reply_id = reply.get("message_id") or p.get("reply_to_message_id")
        allow = reply.get("allow_sending_without_reply") or p.get("allow_sending_without_reply")
        with self._cond:
            if reply_id and (chat["id"], int(reply_id)) not in self._messages:
                if not allow:
                    raise ApiError(400, "Bad Request: message to be replied not found")
                reply_id = None
        markup = self._check_markup(p)
        extra: JSON = {"reply_markup": markup} if markup else {}
        if reply_id and reply.get("quote") is not None:
            extra["quote"] = self._quote(chat["id"], int(reply_id), reply)
        sent = self._message(chat, self._bot_user(), text, reply_id, **extra)
        self._remember_source(sent, p)
        return sent

    def _quote(self, chat_id: int, reply_id: int, reply: JSON) -> JSON:
        """The TextQuote of a reply's `quote`, checked as Telegram checks it (see the module)."""
        quote = str(reply["quote"])
        if reply.get("quote_parse_mode"):
            raise ApiError(400, "Bad Request: quote_parse_mode is not supported by this fake")
        with self._cond:
            target = self._messages[(chat_id, reply_id)]
        caption = "text" not in target
        original = str(target.get("caption" if caption else "text") or "")
        formatting = target.get("caption_entities" if caption else "entities") or []
        length = utf16_len(quote)
        if not quote.strip() or length > QUOTE_LIMIT:
            raise ApiError(400, "Bad Request: QUOTE_TEXT_INVALID")
        units, wanted = original.encode("utf-16-le"), quote.encode("utf-16-le")
        position = reply.get("quote_position")
        if position is None:  # anywhere: the first place it is
            found = next(
                (i // 2 for i in range(0, len(units), 2) if units.startswith(wanted, i)), None
            )
        else:
            at = int(position)
            found = at if at >= 0 and units.startswith(wanted, 2 * at) else None
        if found is None:
            raise ApiError(400, "Bad Request: quote not found")

        def within(entities: list[JSON], shift: int) -> list[tuple[int, int, str]]:
            kept = []
            for e in entities:
                start, stop = (
                    max(e["offset"] + shift, 0),
                    min(e["offset"] + shift + e["length"], length),
                )
                if e["type"] in QUOTED_FORMATTING and start < stop:
                    kept.append((start, stop - start, e["type"]))
            return sorted(kept)

        given = reply.get("quote_entities") or []
        if within(formatting, -found) != within(given, 0):
            raise ApiError(400, "Bad Request: quote not found")
        return {
            "text": quote,
            "position": found,
            "is_manual": True,
            **({"entities": given} if given else {}),
        }

    def _api_editMessageText(self, p: JSON) -> JSON | bool:
        text = self._check_text(str(p.get("text") or ""), p.get("parse_mode"))
        markup = self._check_markup(p)
        if p.get("inline_message_id"):
            return True
        with self._cond:
            key, msg = self._editable(p)
            source = (str(p.get("text") or ""), str(p.get("parse_mode") or "").lower())
            same_text = text == msg["text"] and self._sources.get(key, source) == source
            if same_text and markup == msg.get("reply_markup"):
                raise ApiError(400, _NOT_MODIFIED)
            msg = {**msg, "text": text, "edit_date": int(time.time())}
            return self._replace(key, msg, markup, source)

    def _answer_query(self, query_id: Any) -> bool:
        with self._cond:
            if str(query_id) not in self._open_queries:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired "
                    "or query ID is invalid",
                )
            self._open_queries.discard(str(query_id))
        return True

    def _api_answerInlineQuery(self, p: JSON) -> bool:
        if not isinstance(p.get("results"), list):
            raise ApiError(400, "Bad Request: RESULTS_INVALID")
        return self._answer_query(p.get("inline_query_id"))

    def _api_answerCallbackQuery(self, p: JSON) -> bool:
        if len(str(p.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._answer_query(p.get("callback_query_id"))

    # ------------------------------------------------------------------ inline keyboards and
    # button presses (callback queries)
    def press(self, message: JSON, label: str, user_id: int = DEFAULT_USER_ID) -> JSON:
        """A tap by ``user_id`` on the button labelled ``label`` of the bot's ``message`` (a
        sendMessage result), as the message now is: its current keyboard, after any edits."""
        with self._cond:
            current = self._messages[(message["chat"]["id"], message["message_id"])]
        rows = (current.get("reply_markup") or {}).get("inline_keyboard") or []
        data = next((b["callback_data"] for row in rows for b in row if b["text"] == label), None)
        if data is None:
            labels = [b["text"] for row in rows for b in row]
            raise KeyError(f"no button {label!r} on message {message['message_id']}: {labels}")
        return self.callback_query(current, data, user_id)

    def callback_query(self, message: JSON, data: str, user_id: int = DEFAULT_USER_ID) -> JSON:
        """The ``callback_query`` update of a press with ``data`` on ``message`` (any data: a
        client may still show a keyboard the bot has since replaced)."""
        with self._cond:
            query_id = f"{user_id}{self._next_update_id:08d}"
            self._open_queries.add(query_id)
            current = self._messages.get((message["chat"]["id"], message["message_id"]), message)
        update = {
            "callback_query": {
                "id": query_id,
                "from": self.user(user_id),
                "message": current,
                "chat_instance": str(abs(message["chat"]["id"])),
                "data": data,
            }
        }
        self.push_update(update)
        return update

    def callback_answers(self) -> list[JSON]:
        """Params of the answerCallbackQuery calls accepted, in order."""
        return self.sent("answerCallbackQuery")

    @staticmethod
    def _check_markup(p: JSON) -> JSON | None:
        """The inline keyboard in ``p`` (None for none), refused as Telegram refuses it."""
        markup = p.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(400, "Bad Request: can't parse inline keyboard: rows must be arrays")
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not str(button.get("text") or "").strip():
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: text empty")
            actions = _BUTTON_ACTIONS & set(button)
            if not actions:
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup if any(rows) else None

    def _editable(self, p: JSON) -> tuple[tuple[int, int], JSON]:
        """The message an edit names, if the bot may edit it (call with the lock held)."""
        chat = self._chat(p.get("chat_id"))
        key = (chat["id"], int(p.get("message_id") or 0))
        msg = self._messages.get(key)
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id or "text" not in msg:
            raise ApiError(400, "Bad Request: message can't be edited")
        return key, msg

    def _replace(
        self, key: tuple[int, int], msg: JSON, markup: JSON | None, source: tuple[str, str]
    ) -> JSON:
        """Store an edited message: its keyboard is the one the edit sent, or none."""
        msg.pop("reply_markup", None)
        if markup:
            msg["reply_markup"] = markup
        self._messages[key] = msg
        self._sources[key] = source
        return msg

    def _remember_source(self, msg: JSON, p: JSON) -> None:
        """What the bot sent as a message's text, to tell an edit that changes only formatting."""
        with self._cond:
            key = (msg["chat"]["id"], msg["message_id"])
            self._sources[key] = (str(p.get("text") or ""), str(p.get("parse_mode") or "").lower())

    def _api_editMessageReplyMarkup(self, p: JSON) -> JSON | bool:
        markup = self._check_markup(p)
        if p.get("inline_message_id"):
            return True
        with self._cond:
            key, msg = self._editable(p)
            if markup == msg.get("reply_markup"):
                raise ApiError(400, _NOT_MODIFIED)
            source = self._sources.get(key, (msg["text"], ""))
            return self._replace(key, {**msg, "edit_date": int(time.time())}, markup, source)

    def _api_getChatMember(self, p: JSON) -> JSON:
        chat = self._chat(p.get("chat_id"))
        user_id = int(p.get("user_id") or 0)
        with self._cond:
            status = self._members.get((chat["id"], user_id), "member")
        if chat["type"] == "private":
            status = "member" if user_id != chat["id"] else "creator"
        user = self._bot_user() if user_id == self.bot_id else self.user(user_id)
        return {"status": status, "user": user, **_MEMBER_FIELDS[status]}

    def _api_sendChatAction(self, p: JSON) -> bool:
        self._chat(p.get("chat_id"))
        return True

    def _api_close(self, p: JSON) -> bool:
        return True

    def _api_logOut(self, p: JSON) -> bool:
        return True


_METHODS = {name[5:].lower(): name[5:] for name in dir(FakeBotAPI) if name.startswith("_api_")}
# What an inline keyboard button may do; one without any of these is a plain text button.
_BUTTON_ACTIONS = frozenset(
    "url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat "
    "switch_inline_query_chosen_chat copy_text callback_game pay".split()
)
_ADMIN_RIGHTS = (
    "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
    "can_change_info can_invite_users can_post_stories can_edit_stories can_delete_stories "
    "can_pin_messages can_manage_topics".split()
)
# The fields Telegram sends beside `status` and `user` for each kind of ChatMember.
_MEMBER_FIELDS: dict[str, JSON] = {
    "creator": {"is_anonymous": False},
    "administrator": {
        "can_be_edited": False,
        "is_anonymous": False,
        "can_promote_members": False,
        **dict.fromkeys(_ADMIN_RIGHTS, True),
    },
    "member": {},
    "restricted": {
        "is_member": True,
        "until_date": 0,
        **dict.fromkeys(
            "can_send_messages can_send_audios can_send_documents can_send_photos "
            "can_send_videos can_send_video_notes can_send_voice_notes can_send_polls "
            "can_send_other_messages can_add_web_page_previews can_change_info "
            "can_invite_users can_pin_messages can_manage_topics can_edit_tag "
            "can_react_to_messages".split(),
            False,
        ),
    },
    "left": {},
    "kicked": {"until_date": 0},
}


def _post_json(url: str, payload: JSON, secret: str | None) -> str | None:
    """POST ``payload`` to a local webhook; return an error description or None on 2xx."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    try:
        target = f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"
        conn.request("POST", target, json.dumps(payload).encode(), headers)
        response = conn.getresponse()
        response.read()
        return (
            None
            if 200 <= response.status < 300
            else f"Wrong response from the webhook: {response.status} {response.reason}"
        )
    except OSError as exc:
        return f"Connection failed: {exc}"
    finally:
        conn.close()
