"""storybot's application side: answers, templates, the CLI, the terminal chat and (in
`bot.telegram`) the Telegram bot."""
