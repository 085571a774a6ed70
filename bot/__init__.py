"""storybot's Telegram side: answers, templates, handlers, the app and the CLI."""
