"""Reading ahead (``client_lib.ahead``): pages in order, fetched while the reader works, never
more than the depth ahead, a failure where its page would have come, and no thread left behind
when the reader stops early."""

from __future__ import annotations

import threading

import pytest

from client_lib.ahead import read_ahead

PAGES = 6


class Pages:
    """Numbered pages, keys ``"0"`` to ``"5"``; records what was asked for and can fail at one
    key or hold every fetch until released."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.fail_at = fail_at
        self.asked: list[str] = []
        self.fetching = threading.Event()
        self.released = threading.Event()
        self.released.set()

    def fetch(self, key: str) -> int:
        self.asked.append(key)
        self.fetching.set()
        self.released.wait()
        if key == self.fail_at:
            raise ConnectionError(f"page {key} lost")
        return int(key)


def following(page: int) -> str | None:
    return str(page + 1) if page + 1 < PAGES else None


def test_every_page_comes_once_and_in_order() -> None:
    pages = Pages()
    with read_ahead(pages.fetch, "0", following) as read:
        assert list(read) == list(range(PAGES))
    assert pages.asked == [str(n) for n in range(PAGES)]


def test_the_next_page_is_fetched_while_the_reader_works_on_one_and_no_further_than_the_depth(
) -> None:
    pages = Pages()
    with read_ahead(pages.fetch, "0", following, depth=1) as read:
        first = next(read)
        # While the reader holds page 0, page 1 waits in the queue and page 2 is fetched
        # (its answer then waits for room); page 3 is not asked for.
        for _ in range(100):
            if len(pages.asked) == 3:
                break
            threading.Event().wait(0.01)
        assert first == 0
        assert pages.asked == ["0", "1", "2"]
        assert list(read) == [1, 2, 3, 4, 5]


def test_a_failed_fetch_is_raised_after_every_page_before_it() -> None:
    pages = Pages(fail_at="3")
    read_pages = []
    with pytest.raises(ConnectionError, match="page 3 lost"), \
            read_ahead(pages.fetch, "0", following) as read:
        read_pages.extend(read)
    assert read_pages == [0, 1, 2]
    assert "4" not in pages.asked


@pytest.mark.parametrize("held", [False, True], ids=["fetcher waiting for room",
                                                     "fetcher mid-request"])
def test_a_reader_that_stops_early_leaves_no_fetcher_behind(held: bool) -> None:
    pages = Pages()
    with read_ahead(pages.fetch, "0", following) as read:
        assert next(read) == 0
        if held:  # the fetcher is inside a request when the reader stops
            pages.released.clear()
            pages.fetching.clear()
            assert next(read) == 1
            assert pages.fetching.wait(5)
            threading.Timer(0.05, pages.released.set).start()
    assert not [thread for thread in threading.enumerate() if thread.name == "pull-ahead"]
    assert len(pages.asked) < PAGES
