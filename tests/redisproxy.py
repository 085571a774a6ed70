"""A TCP proxy on 127.0.0.1 in front of the test Redis, which can go silent on cue: the
connections stay open and every byte either way is swallowed, as a Redis host that hangs (or a
network that drops packets) looks to its clients. For the tests of what storybot does when Redis
stops answering in the middle of something.

`silent_after(marker)` arms it: once a command containing `marker` (say the builder lock's key)
has gone to Redis and its answer has come back, it goes silent. `speak()` ends the silence for
connections made afterwards.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class RedisProxy:
    """Forwards 127.0.0.1:`port` to `target`; silent on cue."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.silent = threading.Event()
        self.marker: bytes | None = None
        self._armed = threading.Event()
        self._stopping = threading.Event()
        self._generation = 0  # connections of a silent spell stay silent after speak()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/15"

    def silent_after(self, marker: bytes) -> None:
        """Go silent once a command containing `marker` was answered."""
        self.marker = marker

    def speak(self) -> None:
        """Forward again, on new connections."""
        self._generation += 1
        self.marker = None
        self._armed.clear()
        self.silent.clear()

    def close(self) -> None:
        self._stopping.set()
        self.listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            generation = self._generation
            for src, dst, upward in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, upward, generation), daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upward: bool, generation: int) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.silent.is_set() or generation != self._generation:
                    continue  # swallowed: the other side waits for an answer that never comes
                if upward and self.marker is not None and self.marker in data:
                    self._armed.set()  # before it is sent: its answer may come back at once
                armed = not upward and self._armed.is_set()
                dst.sendall(data)
                if armed:
                    self.silent.set()
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@contextlib.contextmanager
def proxying(target: tuple[str, int] = ("127.0.0.1", 6379)) -> Iterator[RedisProxy]:
    """A RedisProxy in front of `target` for the length of the block."""
    proxy = RedisProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
