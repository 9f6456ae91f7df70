"""An SMTP server on loopback (aiosmtpd) that keeps what it accepts, for the sending tests."""

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller


class Recorder:
    """Keeps (Message-ID, X-Regua-Delivery) of every message accepted, repeats included.

    Each message takes `delay` seconds, so a batch lasts long enough to be interrupted.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesHeaderParser().parsebytes(envelope.content)
        await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append((str(message["Message-ID"]), str(message["X-Regua-Delivery"])))
        return "250 OK: queued"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def reached(self, count: int) -> Callable[[], bool]:
        return lambda: self.count() >= count

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        with self.lock:
            return Counter(message_id for message_id, _delivery in self.received)


class _LoopbackController(Controller):
    """aiosmtpd's controller on an ephemeral port: learn the port before the first probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """The server, which can be stopped and started again on the same port: while it is
    stopped, connections to the port are refused, as from a mail server that is down."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.port = 0
        self._controller: _LoopbackController | None = None

    def start(self) -> None:
        self._controller = _LoopbackController(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def smtp_server(delay: float = 0.01) -> Iterator[SmtpServer]:
    """A running server; aiosmtpd's per-command INFO lines are silenced meanwhile."""
    smtp_log = logging.getLogger("mail.log")
    level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    server = SmtpServer(Recorder(delay))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        smtp_log.setLevel(level)
