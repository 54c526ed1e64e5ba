"""Hybrid logical clock: wall-clock milliseconds in the high bits, a counter in the low 16.

Stamps from one device strictly increase even when its wall clock stands still or steps back, and
a device that hears a later stamp moves past it, so causally later edits always win. Ties between
devices are broken by actor id at merge time (see ``field_sync.merge``). The device corrects its
wall clock with the offset it learned at its last sync, which keeps stamps near real time even on
a tablet whose clock is hours off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from field_sync.errors import ClockError

__all__ = ["COUNTER_BITS", "HybridLogicalClock", "pack", "physical_ms", "unpack"]

COUNTER_BITS = 16
_COUNTER_MASK = (1 << COUNTER_BITS) - 1
_MAX_STAMP = (1 << 63) - 1  # stamps fit a signed 64-bit integer column


def pack(ms: int, counter: int) -> int:
    """The stamp of wall-clock ``ms`` and logical ``counter``."""
    if ms < 0 or not 0 <= counter <= _COUNTER_MASK:
        raise ClockError(f"no stamp for ms={ms}, counter={counter}")
    return (ms << COUNTER_BITS) | counter


def unpack(stamp: int) -> tuple[int, int]:
    """``(ms, counter)`` of a stamp."""
    return stamp >> COUNTER_BITS, stamp & _COUNTER_MASK


def physical_ms(stamp: int) -> int:
    """The wall-clock milliseconds a stamp carries."""
    return stamp >> COUNTER_BITS


def _system_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridLogicalClock:
    """A thread-safe hybrid logical clock.

    Args:
        last: the last stamp this device issued (restored from its store), or 0.
        offset_ms: correction added to the wall clock, learned from the server at sync.
        wall_ms: the wall clock, in milliseconds since the epoch (tests pass a fake one).
    """

    def __init__(
        self,
        last: int = 0,
        offset_ms: int = 0,
        wall_ms: Callable[[], int] = _system_ms,
    ) -> None:
        self._last = last
        self.offset_ms = offset_ms
        self._wall_ms = wall_ms
        self._lock = threading.Lock()

    @property
    def last(self) -> int:
        """The last stamp issued or observed."""
        return self._last

    def corrected_ms(self) -> int:
        """The wall clock with the learned offset applied."""
        return self._wall_ms() + self.offset_ms

    def now(self) -> int:
        """A new stamp, greater than every stamp issued or observed before."""
        with self._lock:
            stamp = self._advance(max(self._last, pack(self.corrected_ms(), 0)))
            if stamp > _MAX_STAMP:
                raise ClockError("the clock has run past the largest stamp it can issue")
            self._last = stamp
            return stamp

    def observe(self, remote: int) -> None:
        """Move past a stamp heard from another replica."""
        if not 0 <= remote <= _MAX_STAMP:
            raise ClockError(f"stamp {remote} is outside the clock's range")
        with self._lock:
            self._last = max(self._last, remote)

    def learn_offset(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        """Set the offset from a server time read between ``sent_ms`` and ``received_ms``.

        Both are uncorrected wall-clock readings; the server's answer is taken to be from the
        middle of the round trip.
        """
        self.offset_ms = server_ms - (sent_ms + received_ms) // 2

    def rewind(self, floor: int) -> None:
        """Issue stamps from ``max(floor, corrected wall clock)`` again.

        Used after the registry refused stamps as too far in the future: they came from a wrong
        wall clock, so the next ones must be near the corrected time, though never below
        ``floor``, the latest stamp heard from any other replica.
        """
        with self._lock:
            self._last = max(floor, pack(self.corrected_ms(), 0))

    def _advance(self, floor: int) -> int:
        ms, counter = unpack(floor)
        if floor == self._last:
            counter += 1
            if counter > _COUNTER_MASK:  # 65,536 stamps in one ms: borrow the next ms
                ms, counter = ms + 1, 0
        return pack(ms, counter)

