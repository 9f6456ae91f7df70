"""Producing work in a forked child process while this one consumes it.

Two cores, two halves: the importer reads and cleans CSV rows in a child while the
parent writes to the database; the demo simulates the next block of customers while
the parent loads the last. The child must not use the database connection it inherits
(fork copies it); it exits with os._exit, so it never closes it either.
"""

import multiprocessing
import queue
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def in_child(produce: Callable[[], Iterator[T]], *, ahead: int = 4) -> Iterator[T]:
    """The items of produce(), made in a child process, at most `ahead` items early."""
    context = multiprocessing.get_context("fork")
    channel: Any = context.Queue(maxsize=ahead)
    child = context.Process(target=_run, args=(produce, channel), daemon=True)
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


def _run(produce: Callable[[], Iterator[Any]], channel: Any) -> None:
    try:
        for item in produce():
            channel.put(("item", item))
        channel.put(("done", None))
    except BaseException as exc:
        channel.put(("error", f"{type(exc).__name__}: {exc}"))
