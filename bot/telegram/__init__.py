"""The Telegram side of storybot: the PTB application, its handlers and the Bot API edge.

Nothing outside this package imports python-telegram-bot (tests/test_architecture.py checks it),
so the answer path, the terminal chat and the CLI run without it.
"""
