"""Reading ahead: a thread asks for each page as soon as the one before it has arrived, while
the reader still works on the pages that came earlier.

A pull's pages follow a cursor, so the next one can be asked for only when the last one is in;
asked for by the thread that stores pages, it would wait until that page was stored, and the
registry would sit idle meanwhile. Here the registry makes page after page while the tablet
stores, and at most ``depth`` pages wait in memory besides the one being stored and the one on
its way. A failure to fetch is raised to the reader where the page would have come, after every
page before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")


@contextmanager
def read_ahead(fetch: Callable[[str], T], first: str, following: Callable[[T], str | None],
               depth: int = 1) -> Iterator[Iterator[T]]:
    """The pages ``fetch`` gives from ``first`` on, each page's ``following`` key naming the
    next (``None`` after the last), fetched by a thread of their own. Leaving the block stops
    the thread, waiting for a request it has under way."""
    arrived: queue.Queue[tuple[T | None, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch_all() -> None:
        key: str | None = first
        while key is not None and not stop.is_set():
            try:
                page = fetch(key)
            except BaseException as error:  # raised again in the reader's thread
                arrived.put((None, error))
                return
            arrived.put((page, None))
            key = following(page)

    def pages() -> Iterator[T]:
        while True:
            page, error = arrived.get()
            if error is not None:
                raise error
            assert page is not None  # a page or an error: never neither
            yield page
            if following(page) is None:
                return

    fetcher = threading.Thread(target=fetch_all, name="pull-ahead", daemon=True)
    fetcher.start()
    try:
        yield pages()
    finally:
        stop.set()
        # A fetcher waiting to hand over a page gets the room to, sees the stop, and ends; one
        # still fetching finds the room when its answer comes.
        with suppress(queue.Empty):
            arrived.get_nowait()
        fetcher.join()
