"""Noticing that the stories folder changed, for `storybot index --watch`.

A folder's state is each story file's name, size and modification time (no content is read, so
polling a large archive each second is cheap). A change is acted on once the folder has been
still for `debounce` seconds: an editor saving ten files, or a sync tool writing a batch, cause
one rebuild, not ten.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from index.articles import story_files

State = frozenset[tuple[str, int, int]]


def folder_state(folder: Path) -> State:
    """Name, size and mtime of every story file under `folder` (vanished files drop out)."""
    out = set()
    for path in story_files(Path(folder)):
        try:
            stat = path.stat()
        except OSError:
            continue
        out.add((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return frozenset(out)


def wait_for_change(
    folder: Path,
    since: State,
    debounce: float = 2.0,
    poll: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    each_poll: Callable[[], object] = lambda: None,
) -> State | None:
    """Block until the folder differs from `since` and then stays still for `debounce`
    seconds; the new state, or None when `stop()` said to give up. `each_poll()` runs once a
    poll while nothing changed (the builder retries an announcement Redis did not take)."""
    while not stop():
        each_poll()
        state = folder_state(folder)
        if state != since:
            still_since = clock()
            while not stop():
                sleep(poll)
                newer = folder_state(folder)
                if newer != state:
                    state, still_since = newer, clock()
                elif clock() - still_since >= debounce:
                    return state
            return None
        sleep(poll)
    return None
