"""Dependencies point one way: only bot/telegram/ imports python-telegram-bot; index/ never bot/;
the offline quality tooling (index/quality/) is imported only by itself and the commands that run
it (bot/cli.py, bot/evaluate.py), never by the answer path.

Imports are read from the source with `ast`, not by importing the modules, so a lazy import
inside a function counts as much as one at the top of the file.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support import ROOT

TELEGRAM_PACKAGE = "bot.telegram"
QUALITY_PACKAGE = "index.quality"
QUALITY_USERS = ("bot.cli", "bot.evaluate")


def module_name(path: Path) -> str:
    """`bot/telegram/app.py` → `bot.telegram.app`; a package's `__init__.py` is the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module `source` imports, anywhere in it, as an absolute dotted name.

    Relative imports are resolved against `module`, so `from . import x` inside bot/telegram/ is
    `bot.telegram`, never mistaken for PTB's top-level `telegram`.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                found.add(node.module)
    return found


def within(name: str, package: str) -> bool:
    """`telegram.ext` is within `telegram`; `telegram_text` is not."""
    return name == package or name.startswith(package + ".")


def violations(module: str, imports: set[str]) -> list[str]:
    """The layering rules `module` breaks by importing `imports`."""
    broken = []
    if not within(module, TELEGRAM_PACKAGE):
        broken += [f"{module} imports {name}" for name in imports if within(name, "telegram")]
    if within(module, "index"):
        broken += [f"{module} imports {name}" for name in imports if within(name, "bot")]
    if not within(module, QUALITY_PACKAGE) and module not in QUALITY_USERS:
        broken += [f"{module} imports {name}" for name in imports if within(name, QUALITY_PACKAGE)]
    return sorted(broken)


def test_the_import_finder_resolves_every_form_of_import() -> None:
    source = (
        "import telegram.ext as ext\n"
        "from bot.settings import BotSettings\n"
        "from . import handlers\n"
        "from ..engine import Engine\n"
        "def lazy():\n"
        "    from telegram.error import InvalidToken\n"
    )
    assert imported_modules(source, "bot.telegram.app") == {
        "telegram.ext",
        "bot.settings",
        "bot.telegram",
        "bot.engine",
        "telegram.error",
    }
    assert imported_modules("from . import app", "bot.telegram", is_package=True) == {
        "bot.telegram"
    }


def test_the_rules_catch_ptb_outside_bot_telegram_and_bot_inside_index() -> None:
    imports = {"telegram.error", "bot.telegram.app", "bot.settings", "index.store"}
    assert violations("bot.cli", imports) == ["bot.cli imports telegram.error"]
    assert violations("bot.telegram.app", imports) == []
    assert violations("index.search", imports) == [
        "index.search imports bot.settings",
        "index.search imports bot.telegram.app",
        "index.search imports telegram.error",
    ]
    assert violations("bot.chat", {"bot.telegram.telegram_text", "telegram_text"}) == []
    tooling = {"index.quality.evalsets", "index.store"}
    assert violations("index.search", tooling) == ["index.search imports index.quality.evalsets"]
    assert violations("bot.engine", tooling) == ["bot.engine imports index.quality.evalsets"]
    assert violations("bot.evaluate", tooling) == violations("index.quality.tuning", tooling) == []


def test_only_bot_telegram_imports_ptb_and_index_never_imports_bot() -> None:
    paths = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "index").rglob("*.py")])
    modules = {module_name(path) for path in paths}
    assert {"bot.cli", "bot.telegram.app", "index.store"} <= modules, "the walk found the code"
    broken = [
        rule
        for path in paths
        for rule in violations(
            module_name(path),
            imported_modules(path.read_text(), module_name(path), path.name == "__init__.py"),
        )
    ]
    assert broken == [], (
        "PTB belongs in bot/telegram/, index/ must not depend on bot/, and the answer path not "
        "on index/quality/"
    )
