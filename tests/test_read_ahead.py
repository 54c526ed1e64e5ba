"""Reading ahead (``client_lib.ahead``): pages in order, fetched while the reader works, never
more than the depth ahead, a failure where its page would have come, and no thread left behind
however the reader leaves. Every body runs under a time limit, so that a fetcher or reader
stuck for good fails the test instead of hanging the run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from client_lib.ahead import read_ahead

pytestmark = pytest.mark.database_free

PAGES = 6
NAME = "test-read-ahead"
LIMIT_S = 10.0
SETTLE_S = 0.2
"""Time given to a fetcher that should not go on, to show that it does not."""


class Pages:
    """Numbered pages, keys ``"0"`` to ``"5"``: records what was asked for, and can fail at a
    key, or hold the fetch of a key until released."""

    def __init__(self, fail_at: str = "", hold_at: str = "") -> None:
        self.fail_at, self.hold_at = fail_at, hold_at
        self.asked: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    def fetch(self, key: str) -> int:
        self.asked.append(key)
        if key == self.hold_at:
            self.holding.set()
            assert self.release.wait(LIMIT_S)
        if key == self.fail_at:
            raise ConnectionError(f"page {key} lost")
        return int(key)


def following(page: int) -> str | None:
    return str(page + 1) if page + 1 < PAGES else None


def within_limit(body: Callable[[], None]) -> None:
    """Run ``body``; fail if it has not ended within the limit, and raise what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:  # handed to the test's thread
            raised.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(LIMIT_S)
    assert not runner.is_alive(), "stuck: the reader or the fetcher never ended"
    if raised:
        raise raised[0]


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not condition():
        assert time.monotonic() < deadline, "the fetcher never got there"
        time.sleep(0.01)


def no_fetcher_left() -> bool:
    return not [thread for thread in threading.enumerate() if thread.name == NAME]


def test_every_page_comes_once_and_in_order() -> None:
    pages = Pages()

    def read_all() -> None:
        with read_ahead(pages.fetch, "0", following, name=NAME) as read:
            assert list(read) == list(range(PAGES))

    within_limit(read_all)
    assert pages.asked == [str(n) for n in range(PAGES)]
    assert no_fetcher_left()


@pytest.mark.parametrize("depth", [1, 2])
def test_pages_are_fetched_while_the_reader_works_and_no_further_than_the_depth(
    depth: int,
) -> None:
    pages = Pages()

    def read_slowly() -> None:
        with read_ahead(pages.fetch, "0", following, depth, name=NAME) as read:
            assert next(read) == 0
            # While the reader works on page 0: ``depth`` pages wait for it, and one more has
            # been fetched and waits for room; nothing further is asked for.
            wait_until(lambda: len(pages.asked) == depth + 2)
            time.sleep(SETTLE_S)
            assert len(pages.asked) == depth + 2
            assert list(read) == list(range(1, PAGES))

    within_limit(read_slowly)


def test_a_failed_fetch_is_raised_after_every_page_before_it() -> None:
    pages = Pages(fail_at="3")
    read_pages: list[int] = []

    def read_all() -> None:
        with read_ahead(pages.fetch, "0", following, name=NAME) as read:
            read_pages.extend(read)

    with pytest.raises(ConnectionError, match="page 3 lost"):
        within_limit(read_all)
    assert read_pages == [0, 1, 2]
    assert "4" not in pages.asked
    assert no_fetcher_left()


def test_a_failure_to_name_the_next_page_is_raised_too() -> None:
    def broken(page: int) -> str | None:
        if page == 2:
            raise ValueError("no cursor after page 2")
        return following(page)

    read_pages: list[int] = []

    def read_all() -> None:
        with read_ahead(Pages().fetch, "0", broken, name=NAME) as read:
            read_pages.extend(read)

    with pytest.raises(ValueError, match="no cursor"):
        within_limit(read_all)
    assert read_pages == [0, 1]


def test_a_reader_that_stops_while_the_fetcher_waits_for_room_leaves_no_fetcher() -> None:
    pages = Pages()

    def read_one() -> None:
        with read_ahead(pages.fetch, "0", following, name=NAME) as read:
            assert next(read) == 0
            wait_until(lambda: len(pages.asked) == 3)  # page 1 waits, page 2 wants room

    within_limit(read_one)
    assert no_fetcher_left()
    time.sleep(SETTLE_S)
    assert pages.asked == ["0", "1", "2"]


def test_a_reader_that_stops_while_a_fetch_is_under_way_waits_for_it_and_leaves_no_fetcher(
) -> None:
    pages = Pages(hold_at="2")

    def read_one() -> None:
        with read_ahead(pages.fetch, "0", following, name=NAME) as read:
            assert next(read) == 0
            assert pages.holding.wait(LIMIT_S)  # page 1 waits for the reader, page 2 is asked
            threading.Timer(0.1, pages.release.set).start()

    within_limit(read_one)
    assert no_fetcher_left()
    assert pages.asked == ["0", "1", "2"]


def test_a_reader_that_fails_on_a_page_leaves_no_fetcher() -> None:
    def fail_on_page_one() -> None:
        with read_ahead(Pages().fetch, "0", following, name=NAME) as read:
            for page in read:
                if page == 1:
                    raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        within_limit(fail_on_page_one)
    assert no_fetcher_left()


def test_reading_ahead_takes_at_least_one_page() -> None:
    with pytest.raises(ValueError, match="one page or more"), \
            read_ahead(Pages().fetch, "0", following, depth=0):
        pass
