"""The newsroom's channel as a story source: each post, and each edit of it, stored as a story.

With the bot an administrator of a channel that STORYBOT_CHANNELS names (by id or @username),
each `channel_post` is stored as `stories/telegram/<channel id>/<message id>.txt`
(`index.posts`): its text, or a photo's or video's caption, without its formatting, so that
offsets are the ones Telegram shows. An `edited_channel_post` stores the new version: a
developing story, so `/whatsnew` and `/follow` see the changed sentence once it is indexed. A
post without text is skipped with a log line; posts of channels not named are ignored (one log
line per channel); the bot never says anything in a channel.

Indexing goes the builder's own way. A worker alone (no STORYBOT_REDIS_URL) builds itself: once
stored posts have been still for BUILD_STILL_SECONDS (a burst of posts is one build), on a
worker thread with the encoder it answers with, under the index's build lock, and then serves
the build. With Redis a worker only stores the file, and the one builder (`storybot index
--watch`) sees the stories folder change, builds and publishes, as for any edit of a story.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Chat, Message, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.engine import Engine, build
from bot.settings import BotSettings
from bot.telegram.quotes import formatting_spans
from index.builder import counted
from index.errors import IndexBusy, NotOurs, StorybotError
from index.posts import ChannelPosts, Post, post_file

log = logging.getLogger(__name__)

BUILD_STILL_SECONDS = 2.0  # as `storybot index --watch` waits for the stories folder


def post_link(chat: Chat, message_id: int) -> str:
    """The post's t.me link: `https://t.me/<username>/<id>`, or for a private channel
    `https://t.me/c/<id without -100>/<id>` (which opens only for its members)."""
    if chat.username:
        return f"https://t.me/{chat.username}/{message_id}"
    return f"https://t.me/c/{str(chat.id).removeprefix('-100')}/{message_id}"


def post_of(message: Message) -> Post | None:
    """The post a channel message is, as storybot stores it; None when it has no text."""
    text = message.text if message.text is not None else message.caption
    if not text or not text.strip():
        return None
    entities = message.entities if message.text is not None else message.caption_entities
    return Post(
        channel=message.chat.id,
        message_id=message.message_id,
        text=text,
        date=message.date,
        edited=message.edit_date,
        url=post_link(message.chat, message.message_id),
        spans=formatting_spans(entities),
    )


class PostBuilds:
    """Builds after stored posts, in a worker that has no builder beside it (no Redis)."""

    def __init__(self, application: Application, settings: BotSettings, engine: Engine) -> None:
        self.application, self.settings, self.engine = application, settings, engine
        self.builder_elsewhere = settings.redis_url is not None
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """A post was stored: build once the posts have been still for a while."""
        if self.builder_elsewhere:
            return
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
            # post_shutdown cancels what bot_data["tasks"] holds.
            self.application.bot_data.setdefault("tasks", []).append(self._task)

    async def _run(self) -> None:
        still = float(self.application.bot_data.get("post_build_seconds", BUILD_STILL_SECONDS))
        while True:
            await self._wanted.wait()
            while self._wanted.is_set():  # until no post came for `still` seconds
                self._wanted.clear()
                await asyncio.sleep(still)
            try:
                await self._build()
            except IndexBusy:  # `storybot index` is building: the posts are in the next build
                log.info("the index is being built by another process; building again after it")
                self._wanted.set()
            except StorybotError as exc:
                log.warning("channel posts not indexed: %s", exc)
            except Exception:  # the next post tries again; this task must not end
                log.exception("indexing channel posts failed")

    async def _build(self) -> None:
        report, problems = await asyncio.to_thread(build, self.settings, self.engine.encoder)
        for problem in problems:
            log.warning("skipped %s", problem)
        log.info(
            "indexed the channel posts: %s, %s (%s embedded)",
            counted(report.articles, "article"),
            counted(report.sentences, "sentence"),
            f"{report.embedded:,}",
        )
        await asyncio.to_thread(self.engine.reload_if_changed)


def builds_of(application: Application) -> PostBuilds:
    """The PostBuilds kept in bot_data."""
    builds: PostBuilds = application.bot_data["post_builds"]
    return builds


async def on_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store a channel post, or an edit of one, as its story (see the module)."""
    message = update.channel_post or update.edited_channel_post
    if message is None:
        return
    settings: BotSettings = context.bot_data["settings"]
    chat = message.chat
    if not settings.reads_channel(chat.id, chat.username):
        ignored: set[int] = context.bot_data.setdefault("ignored_channels", set())
        if chat.id not in ignored:
            ignored.add(chat.id)
            log.info("ignoring posts of channel %s (not in STORYBOT_CHANNELS)", chat.id)
        return
    post = post_of(message)
    file = post_file(chat.id, message.message_id)
    if post is None:
        log.info("channel post %s has no text (a photo or video without a caption?): skipped", file)
        return
    try:
        saved = await asyncio.to_thread(ChannelPosts(settings.stories).save, post)
    except NotOurs as exc:
        log.warning("channel post not stored: %s", exc)
        return
    except OSError as exc:
        log.warning("channel post %s not stored: %s", file, exc.strerror or exc)
        return
    if saved in ("unchanged", "older"):
        log.info("channel post %s: %s, nothing to store", file, saved)
        return
    builds = builds_of(context.application)
    where = "the builder indexes it" if builds.builder_elsewhere else "indexing it"
    log.info("stored channel post %s (%s); %s", file, saved, where)
    builds.poke()


def install_channel(application: Application, settings: BotSettings, engine: Engine) -> None:
    """Store the posts of the channels in STORYBOT_CHANNELS (a handler that sees every channel
    update before any other)."""
    application.bot_data["post_builds"] = PostBuilds(application, settings, engine)
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, on_post))
