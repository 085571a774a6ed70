"""The terminal chat through `storybot chat` (CliRunner): the same commands, small talk and
follow-ups as the bot, and `/story` picking the story it answers from."""

from __future__ import annotations

from support import numbered, quote_of, run_cli

WITKOFF = "His envoy, Steve Witkoff, is expected to visit Russia"


def replies(output: str) -> dict[str, str]:
    """Piped chat output (`> line`, then the reply) as line → reply."""
    blocks = [block.split("\n", 1) for block in output.split("> ")[1:]]
    return {block[0]: block[1] if len(block) > 1 else "" for block in blocks}


def test_terminal_chat_reads_commands_as_the_bot_does(seed_args: list[str]) -> None:
    lines = [
        "Hello",
        "hi!",
        "Thanks!",
        "thank you",
        "/summary 3",
        "/summary Crimea 2",
        "/ask Who is Rubio?",
        "/foo",
        "/story",
        "/help",
    ]
    result = run_cli(["chat", *seed_args], stdin="\n".join(lines) + "\n")
    assert result.exit_code == 0
    got = replies(result.output)
    for greeting in lines[:4]:
        reply = got[greeting]
        assert "not in the story" not in reply and "/help" in reply, greeting
    assert got["Hello"].startswith("Hello!") and got["hi!"].startswith("Hello!")
    assert got["Thanks!"].startswith("You're welcome")
    assert got["/summary 3"].startswith("Summary of “London talks”")
    assert len(numbered(got["/summary 3"])) == 3
    crimea = got["/summary Crimea 2"]
    assert crimea.startswith("What “London talks” says about “Crimea”")
    assert 1 <= len(numbered(crimea)) <= 2
    asked = run_cli(["ask", *seed_args, "Who is Rubio?"]).output.strip()
    assert got["/ask Who is Rubio?"].strip() == asked, "the same answer as without /ask"
    assert got["/foo"].startswith("I don't know /foo")
    assert "1. London talks — 23 Apr 2025 · 2025-04-23-london-talks" in got["/story"]
    assert "/story" in got["/help"] and "/quit" in got["/help"]


def test_terminal_chat_follows_up_on_the_previous_answer(seed_args: list[str]) -> None:
    result = run_cli(["chat", *seed_args], stdin="Who is the US envoy?\nWho is he?\n")
    follow_up = result.output.split("> Who is he?\n", 1)[1]
    assert quote_of(follow_up).startswith(WITKOFF)
    alone = run_cli(["chat", *seed_args], stdin="Who is he?\n").output
    assert not alone.split("\n", 1)[1].startswith(WITKOFF)


def test_terminal_chat_picks_a_story_and_is_answered_from_it(newsroom_args: list[str]) -> None:
    stdin = "/summary\n/story budget\n/summary\nWho is Steve Witkoff?\n/story all\n"
    stdin += "Who is Steve Witkoff?\n"
    blocks = run_cli(["chat", *newsroom_args], stdin=stdin).output.split("\n> ")
    asked, picked, summary, declined, _, answered = blocks
    assert "A summary is of one story at a time" in asked and "1. Harbour fire" in asked
    assert "Now following “Parliament passes the 2026 budget”" in picked
    assert "Summary of “Parliament passes the 2026 budget”" in summary
    assert "not in the story" in declined and WITKOFF not in declined
    assert WITKOFF in answered


def test_terminal_chat_acts_on_its_last_answer_as_the_buttons_do(seed_args: list[str]) -> None:
    lines = [
        "/context",
        "How do I bake sourdough bread?",
        "/another",
        "Who is Steve Witkoff?",
        "/context",
        "/context",
        "/another",
        "/another",
        "/another",
        "/good",
        "/good",
        "/bad",
    ]
    result = run_cli(["chat", *seed_args], stdin="\n".join(lines) + "\n")
    assert result.exit_code == 0
    blocks = [block.split("\n", 1) for block in result.output.split("> ")[1:]]
    got = [(line, reply.strip()) for line, reply in blocks]
    assert [line for line, _ in got] == lines
    replies = [reply for _, reply in got]
    assert replies[0].startswith("Ask a question first")
    assert replies[2].startswith("My last reply quotes no sentence"), "declined: nothing to act on"
    answer = replies[3]
    assert quote_of(answer).startswith(WITKOFF)
    assert replies[4].startswith("Trump has said his country will abandon the peace efforts")
    assert WITKOFF in replies[4] and "— London talks, paragraph 14" in replies[4]
    assert replies[5] == answer, "/context again goes back to the quote"
    assert replies[6].endswith("(2 of 3).") and WITKOFF not in replies[6]
    assert replies[7].endswith("(3 of 3).")
    assert replies[8] == "No other sentence comes close: that was the last one."
    assert replies[9:] == [
        "Thanks! Counted: this sentence answered the question.",
        "Already counted. Thanks!",
        "Thanks! Counted: this sentence did not answer the question.",
    ]
