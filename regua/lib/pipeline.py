"""Producing work in a forked child process while this one consumes it.

Two cores, two halves: the importer reads and cleans CSV rows in a child while the
parent writes to the database; the demo simulates the next block of customers while
the parent loads the last. The child must not use the database connection it inherits
(fork copies it); it exits with os._exit, so it never closes it either.

The child ends with its parent: on SIGTERM (which terminate() sends, whatever handler
the parent had installed, e.g. a worker's graceful shutdown) and when the parent dies
(SIGKILL), instead of waiting forever to hand over its items.
"""

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def in_child(produce: Callable[[], Iterator[T]], *, ahead: int = 4) -> Iterator[T]:
    """The items of produce(), made in a child process, at most `ahead` items early."""
    context = multiprocessing.get_context("fork")
    channel: Any = context.Queue(maxsize=ahead)
    child = context.Process(target=_run, args=(produce, channel, os.getpid()), daemon=True)
    child.start()
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=1)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError("the producing process stopped") from None
                continue
            if kind == "done":
                return
            if kind == "error":
                raise RuntimeError(payload)
            yield payload
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def _run(produce: Callable[[], Iterator[Any]], channel: Any, parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    try:
        for item in produce():
            channel.put(("item", item))
        channel.put(("done", None))
    except BaseException as exc:
        channel.put(("error", f"{type(exc).__name__}: {exc}"))


def _end_with(parent: int) -> None:
    """End this process once its parent is gone: nobody will read the queue any more, and
    the child would wait forever to put an item or, at exit, to flush the last ones."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
