"""Reading ahead: a thread asks for each page as soon as the one before it has arrived, while
the reader still works on the pages that came earlier.

A pull's pages follow a cursor, so the next one can be asked for only when the last one is in;
asked for by the thread that stores pages, it would wait until that page was stored, and the
registry would sit idle meanwhile. Here the registry makes page after page while the tablet
stores, and at most ``depth`` pages wait for the reader besides the one it works on and the one
on its way. A failure to fetch is raised to the reader where the page would have come, after
every page before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")


class _Failed:
    """What the fetcher hands over instead of a page when fetching it failed."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Page(Generic[T]):
    """A page the fetcher handed over, and whether another follows it."""

    __slots__ = ("last", "page")

    def __init__(self, page: T, last: bool) -> None:
        self.page, self.last = page, last


@contextmanager
def read_ahead(fetch: Callable[[str], T], first: str, following: Callable[[T], str | None],
               depth: int = 1, name: str = "read-ahead") -> Iterator[Iterator[T]]:
    """The pages ``fetch`` gives from ``first`` on, each page's ``following`` key naming the
    next (``None`` after the last), fetched by a thread called ``name``. Leaving the block
    stops the thread, waiting for a request it has under way."""
    if depth < 1:
        raise ValueError("read ahead by one page or more")
    arrived: queue.Queue[_Page[T] | _Failed] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch_all() -> None:
        key: str | None = first
        while key is not None and not stop.is_set():
            try:
                page = fetch(key)
                key = following(page)
            except BaseException as error:  # raised again in the reader's thread
                arrived.put(_Failed(error))
                return
            arrived.put(_Page(page, last=key is None))

    def pages() -> Iterator[T]:
        while not stop.is_set():
            handed = arrived.get()
            if isinstance(handed, _Failed):
                raise handed.error
            yield handed.page
            if handed.last:
                return
        raise RuntimeError("pages read ahead are read inside their block")

    fetcher = threading.Thread(target=fetch_all, name=name, daemon=True)
    fetcher.start()
    try:
        yield pages()
    finally:
        stop.set()
        # A fetcher waiting to hand over a page gets the room to, sees the stop, and ends; one
        # still fetching finds the room when its answer comes (it hands over one page at most).
        with suppress(queue.Empty):
            arrived.get_nowait()
        fetcher.join()
