"""Comments on the channel's posts, answered from their post with Telegram's native quote.

A channel's posts are forwarded automatically into its linked discussion group, and a reader's
comment on a post is a message in that forward's thread: a reply to the forward
(`is_automatic_forward`), or to another comment (`message_thread_id` is the forward's id). A
question there — addressed to the bot as anywhere (`/ask`, a mention, a reply to its answer),
or any comment once an admin sent `/comments on` — is answered from that post's story only.

The answer replies to the post's forward with `reply_parameters.quote` set to the answering
sentence (at its UTF-16 `quote_position`), so Telegram shows the sentence highlighted inside the
post; the text names the question and the source. When the sentence cannot be quoted
(`bot.telegram.quotes`: too long, touched by formatting, no longer in the post) or Telegram
refuses the quote, the reply is today's: the sentence quoted in the answer's own text, replying
to the comment. Either way the answer carries the buttons of any answer (`bot.telegram.buttons`)
and the question is logged among what readers asked, under the post's story (`bot.asked`). An
unaddressed comment (`/comments on`) that the post does not answer, or that is only a greeting,
gets no reply and is not logged. A message in a thread that is no post storybot reads is handled
as any group message.

Which post a thread belongs to is kept per group (the forward's id → the channel post, a ring of
THREAD_SLOTS), noted when the forward arrives and when a comment replies to it.
"""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import (
    InlineKeyboardMarkup,
    Message,
    MessageOriginChannel,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.actions import Actions, View
from bot.answer import Answer
from bot.conversation import Reply, parse
from bot.followup import remember
from bot.settings import BotSettings
from bot.state import ChatState
from bot.telegram import handlers
from bot.telegram.buttons import keyboard
from bot.telegram.followers import may_choose
from bot.telegram.guard import Guard, Verdict, addressed
from bot.telegram.handlers import (
    conversation_of,
    earlier_of,
    engine_of,
    send_html,
    state_of,
    strip_mention,
)
from bot.telegram.quotes import quote_in, refused_quote
from bot.templates import render
from index.posts import ChannelPosts, post_file
from index.stories import Story

log = logging.getLogger(__name__)

COMMENTS = "comments"  # per-chat state: "on" when every comment is read
THREAD = "post:"  # per-chat state: a post's forward → the post (a ring of THREAD_SLOTS)
THREAD_SLOTS = 1024
Thread = tuple[int, int, int]  # the forward's message id, the channel, the post's message id


class _InPostThread(filters.MessageFilter):
    """A message in a supergroup's reply thread: a comment, if the thread is a post's."""

    def filter(self, message: Message) -> bool:
        if message.chat.type != ChatType.SUPERGROUP or message.is_automatic_forward:
            return False
        replied = message.reply_to_message
        if replied is not None and replied.is_automatic_forward:
            return True
        return bool(message.message_thread_id) and not message.is_topic_message


IN_POST_THREAD = _InPostThread(name="IN_POST_THREAD")
ASK_COMMAND = filters.Regex(r"^/ask(?:@\w+)?(?:\s|$)")


def note_thread(state: ChatState, chat_id: int, forward_id: int, channel: int, post: int) -> None:
    """Remember that the thread of message `forward_id` is the comments of `channel`'s `post`."""
    value = json.dumps({"forward": forward_id, "channel": channel, "post": post})
    state.put(chat_id, f"{THREAD}{forward_id % THREAD_SLOTS}", value)


def thread_of(message: Message, state: ChatState) -> Thread | None:
    """The post whose comments `message` is in, if storybot knows the thread."""
    replied = message.reply_to_message
    if replied is not None and isinstance(replied.forward_origin, MessageOriginChannel):
        origin = replied.forward_origin
        note_thread(state, message.chat_id, replied.message_id, origin.chat.id, origin.message_id)
        return replied.message_id, origin.chat.id, origin.message_id
    forward_id = message.message_thread_id
    if not forward_id:
        return None
    raw = state.get(message.chat_id, f"{THREAD}{forward_id % THREAD_SLOTS}")
    try:
        data = json.loads(raw) if raw else None
        if isinstance(data, dict) and data.get("forward") == forward_id:
            return forward_id, int(data["channel"]), int(data["post"])
    except (ValueError, TypeError, KeyError):
        pass
    return None


async def on_forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A channel post's automatic forward into its discussion group: note whose thread it
    opens; never answered (a post that mentions the bot is no question to it)."""
    message = update.effective_message
    if message is None or not isinstance(message.forward_origin, MessageOriginChannel):
        return
    origin = message.forward_origin
    await asyncio.to_thread(
        note_thread,
        state_of(context),
        message.chat_id,
        message.message_id,
        origin.chat.id,
        origin.message_id,
    )


async def comments(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/comments [on|off]`: whether every comment on the channel's posts is read here."""
    message = update.effective_message
    if message is None or message.chat.type == ChatType.CHANNEL:
        return
    if message.chat.type not in handlers.GROUPS:
        await send_html(message, render("comments", kind="private"))
        return
    state = state_of(context)
    choice = (context.args or [""])[0].lower()
    if choice not in ("on", "off"):
        now = await asyncio.to_thread(state.get, message.chat_id, COMMENTS)
        await send_html(message, render("comments", kind=f"status_{now or 'off'}"))
        return
    if not await may_choose(message, context.bot):
        await send_html(message, render("comments", kind="refused"))
        return
    await asyncio.to_thread(state.put, message.chat_id, COMMENTS, choice)
    await send_html(message, render("comments", kind=choice))


def _budget(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Spend a question of the sender's budget for an unaddressed comment (the guard spends it
    only for addressed messages); False, silently, when there is none left."""
    guard: Guard = context.bot_data["guard"]
    user = message.from_user.id if message.from_user else message.chat_id
    if guard.is_admin(user):
        return True
    verdict = Verdict(guard.limit.take(user, guard.clock()))
    guard.count("allowed" if verdict is Verdict.ALLOW else "limited")
    return verdict is Verdict.ALLOW


async def on_comment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A message in a post's thread: answered from the post (see the module)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    state, engine = state_of(context), engine_of(context)
    thread = await asyncio.to_thread(thread_of, message, state)
    settings: BotSettings = context.bot_data["settings"]
    story, file = None, None
    if thread is not None:
        file = post_file(thread[1], thread[2])
        story = engine.catalog.of_file(file)
    # Only the posts of the channels in STORYBOT_CHANNELS are stored: an indexed or stored post
    # is one of theirs.
    if file is None or (story is None and not (settings.stories / file).exists()):
        # No post storybot reads: the message is what it would be anywhere in a group.
        if message.text.startswith("/"):
            await handlers.ask(update, context)
        else:
            await handlers.group_text(update, context)
        return
    assert thread is not None
    asked = addressed(message, context.bot)
    if not asked:
        reading = await asyncio.to_thread(state.get, message.chat_id, COMMENTS)
        if reading != "on" or update.message is None or not _budget(message, context):
            return
    username = context.bot.username
    command = parse(strip_mention(message.text, username), username)
    if command is None:
        return  # `/ask@otherbot`
    if command.kind in ("greeting", "thanks"):
        if asked:
            await handlers.converse(message, context, command)
        return
    question = command.text
    replied = message.reply_to_message
    if not question and replied is not None and not replied.is_automatic_forward:
        question = replied.text or ""  # `/ask` sent as a reply asks the replied-to comment
    if story is None:  # stored, not indexed yet: say so when asked, else wait for the next
        if asked:
            await send_html(message, render("comments", kind="reading"))
        return
    await answer_comment(message, context, thread, story, question, asked)


async def answer_comment(
    message: Message,
    context: ContextTypes.DEFAULT_TYPE,
    thread: Thread,
    story: Story,
    question: str,
    asked: bool,
) -> None:
    """Answer `question` from the post's story: quoting the post where Telegram allows it,
    else as any answer is sent; an unasked comment the post does not answer gets nothing."""
    conversation = conversation_of(context)
    earlier = earlier_of(message, context)
    actions: Actions | None = context.bot_data.get("actions")
    user = message.from_user.id if message.sender_chat is None and message.from_user else None

    def respond() -> tuple[Reply, View | None]:
        reply = conversation.ask(question, earlier, [story])
        answer = reply.answer
        if actions is None or answer is None or reply.earlier is None:
            return reply, None
        if not answer.answered and not asked:
            return reply, None  # no reply, and no question anyone put to the bot
        # Logged among what readers asked, and its buttons' record kept, before it is sent.
        key, searched = message.message_id, reply.earlier.question
        return reply, actions.answered(message.chat_id, key, searched, answer, user, story)

    reply, view = await asyncio.to_thread(respond)
    answer = reply.answer
    if answer is None or not reply.html or (not answer.answered and not asked):
        return
    markup = keyboard(view) if view else None
    # An answer or a hedge quotes the post itself (a hedge says the post may not say exactly).
    sent = None
    if answer.quotes:
        sent = await send_quoted(message, context, thread, answer, question, markup)
    if sent is None:
        sent = await send_html(message, reply.html, markup)
    if reply.earlier is not None:
        for part in sent:
            await asyncio.to_thread(
                remember, state_of(context), part.chat_id, part.message_id, reply.earlier
            )


async def send_quoted(
    message: Message,
    context: ContextTypes.DEFAULT_TYPE,
    thread: Thread,
    answer: Answer,
    question: str,
    markup: InlineKeyboardMarkup | None = None,
) -> list[Message] | None:
    """Reply to the post's forward quoting the answering sentence, with the answer's buttons
    (`markup`); None when it cannot be quoted or Telegram refuses the quote (the caller then
    replies as usual)."""
    forward_id, channel, post = thread
    settings: BotSettings = context.bot_data["settings"]
    citation = answer.citations[0]
    stored = await asyncio.to_thread(ChannelPosts(settings.stories).stored, channel, post)
    quote = quote_in(stored[0], citation.sentence, citation.start, stored[1]) if stored else None
    if quote is None:
        file = post_file(channel, post)
        log.info("the answer from %s cannot be quoted in the post; quoting it in the reply", file)
        return None
    asker = message.from_user
    html = render(
        "post_answer",
        citation=citation,
        question=" ".join(question.split()),
        asker=asker.first_name if asker else message.chat.title or "Someone",
        asker_id=asker.id if asker else None,
        hedged=answer.kind != "answer",
    )
    try:
        sent = await context.bot.send_message(
            message.chat_id,
            html,
            parse_mode=ParseMode.HTML,
            disable_web_page_preview=True,
            reply_parameters=ReplyParameters(
                forward_id, quote=quote.text, quote_position=quote.position
            ),
            reply_markup=markup,
        )
    except BadRequest as exc:
        if not refused_quote(exc):
            raise
        log.info("Telegram refused the quote (%s); quoting the sentence in the reply", exc)
        return None
    actions: Actions | None = context.bot_data.get("actions")
    if markup is not None and actions is not None:  # Quote brings back this reply, not today's
        await asyncio.to_thread(actions.sent_as, message.chat_id, message.message_id, html)
    return [sent]


def install_comments(application: Application) -> None:
    """Wire the discussion group's side: automatic forwards, `/comments`, and comments (ahead
    of the group handlers, which get what is no comment on a post storybot reads)."""
    application.add_handler(MessageHandler(filters.IS_AUTOMATIC_FORWARD, on_forward))
    application.add_handler(CommandHandler(COMMENTS, comments))
    application.add_handler(
        MessageHandler(
            IN_POST_THREAD & ((filters.TEXT & ~filters.COMMAND) | ASK_COMMAND), on_comment
        )
    )
