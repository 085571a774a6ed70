"""Reply templates (Telegram HTML, jinja2). No logic lives here; see bot/templates.py."""
