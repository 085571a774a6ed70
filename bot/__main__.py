"""`python -m bot`: run the Telegram bot (or the terminal chat without a token)."""

from bot.cli import cli

if __name__ == "__main__":
    cli(["run"], prog_name="storybot")
