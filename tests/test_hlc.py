"""The hybrid logical clock: stamps strictly increase whatever the wall clock does."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from field_sync import ClockError, FieldSyncError, HybridLogicalClock, pack, physical_ms, unpack
from field_sync.hlc import COUNTER_BITS

pytestmark = pytest.mark.database_free

T0 = 1_717_000_000_000  # a wall-clock reading in ms, June 2024
MAX_COUNTER = (1 << COUNTER_BITS) - 1
MAX_STAMP = (1 << 63) - 1


class FakeWall:
    """A wall clock the test sets by hand."""

    def __init__(self, ms: int = T0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def clock_at(ms: int = T0, **kwargs: int) -> tuple[HybridLogicalClock, FakeWall]:
    wall = FakeWall(ms)
    return HybridLogicalClock(wall_ms=wall, **kwargs), wall


# --- pack / unpack ----------------------------------------------------------------------------


def test_pack_layout_is_ms_high_counter_low_16_bits() -> None:
    assert COUNTER_BITS == 16
    assert pack(T0, 0) == T0 << 16
    assert pack(T0, 5) == (T0 << 16) + 5
    assert pack(0, MAX_COUNTER) == 0xFFFF
    assert unpack(pack(T0, 7)) == (T0, 7)
    assert physical_ms(pack(T0, 7)) == T0


@given(ms=st.integers(0, (1 << 47) - 1), counter=st.integers(0, MAX_COUNTER))
def test_pack_unpack_round_trip(ms: int, counter: int) -> None:
    stamp = pack(ms, counter)
    assert unpack(stamp) == (ms, counter)
    assert physical_ms(stamp) == ms
    assert 0 <= stamp <= MAX_STAMP


@given(
    a=st.tuples(st.integers(0, 1 << 45), st.integers(0, MAX_COUNTER)),
    b=st.tuples(st.integers(0, 1 << 45), st.integers(0, MAX_COUNTER)),
)
def test_stamps_order_like_ms_then_counter(a: tuple[int, int], b: tuple[int, int]) -> None:
    assert (pack(*a) < pack(*b)) == (a < b)
    assert (pack(*a) == pack(*b)) == (a == b)


@pytest.mark.parametrize(
    ("ms", "counter"),
    [(-1, 0), (0, -1), (0, MAX_COUNTER + 1), (T0, 1 << 20)],
)
def test_pack_refuses_what_has_no_stamp(ms: int, counter: int) -> None:
    with pytest.raises(ClockError) as caught:
        pack(ms, counter)
    assert caught.value.code == "bad_clock"
    assert caught.value.reason == f"no stamp for ms={ms}, counter={counter}"
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, FieldSyncError)


# --- now() -------------------------------------------------------------------------------------


def test_first_stamp_is_the_wall_clock_with_counter_zero() -> None:
    clock, _ = clock_at(T0)
    assert clock.now() == pack(T0, 0)
    assert clock.last == pack(T0, 0)


def test_wall_clock_standing_still_counts_up() -> None:
    clock, _ = clock_at(T0)
    stamps = [clock.now() for _ in range(1_000)]
    assert stamps == [pack(T0, counter) for counter in range(1_000)]


def test_wall_clock_moving_forward_resets_the_counter() -> None:
    clock, wall = clock_at(T0)
    clock.now()
    clock.now()
    wall.ms = T0 + 1
    assert clock.now() == pack(T0 + 1, 0)


def test_wall_clock_stepping_back_never_makes_an_earlier_stamp() -> None:
    clock, wall = clock_at(T0)
    before = clock.now()
    wall.ms = T0 - 3_600_000  # NTP pulled the clock an hour back
    after = [clock.now() for _ in range(3)]
    assert after == [before + 1, before + 2, before + 3]
    assert physical_ms(after[-1]) == T0
    wall.ms = T0 + 10
    assert clock.now() == pack(T0 + 10, 0)


def test_restored_last_stamp_is_respected_after_a_restart() -> None:
    restored = pack(T0 + 5_000, 42)  # stamped before the tablet's clock was reset
    clock, _ = clock_at(T0, last=restored)
    assert clock.last == restored
    assert clock.now() == restored + 1


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    clock, _ = clock_at(T0, last=pack(T0, MAX_COUNTER))
    assert clock.now() == pack(T0 + 1, 0)
    assert clock.now() == pack(T0 + 1, 1)


def test_sixty_five_thousand_stamps_in_one_millisecond_spill_into_the_next() -> None:
    clock, _ = clock_at(T0)
    stamps = [clock.now() for _ in range(MAX_COUNTER + 3)]
    assert stamps[MAX_COUNTER] == pack(T0, MAX_COUNTER)
    assert stamps[MAX_COUNTER + 1:] == [pack(T0 + 1, 0), pack(T0 + 1, 1)]
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))


def test_concurrent_callers_never_get_the_same_stamp() -> None:
    clock, _ = clock_at(T0)
    seen: list[list[int]] = [[] for _ in range(8)]

    def stamp_many(out: list[int]) -> None:
        for _ in range(2_000):
            out.append(clock.now())

    threads = [threading.Thread(target=stamp_many, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [stamp for out in seen for stamp in out]
    assert len(set(every)) == len(every) == 16_000
    for out in seen:
        assert out == sorted(out)


def test_a_corrected_clock_before_the_epoch_is_a_clock_error() -> None:
    clock, _ = clock_at(1_000, offset_ms=-5_000)
    with pytest.raises(ClockError):
        clock.now()


def test_the_largest_stamp_is_issued_once_and_then_the_clock_says_it_has_run_out() -> None:
    """A stamp fits a signed 64-bit column: the clock issues the largest one, then refuses
    to issue another rather than wrap around, and keeps its last stamp."""
    clock, _ = clock_at(T0, last=MAX_STAMP - 1)
    assert clock.now() == MAX_STAMP
    with pytest.raises(ClockError) as caught:
        clock.now()
    assert caught.value.reason == "the clock has run past the largest stamp it can issue"
    assert clock.last == MAX_STAMP


def test_the_default_wall_clock_is_the_systems_in_whole_milliseconds() -> None:
    """Without a wall clock given, the clock reads the system's, in whole milliseconds."""
    before = time.time_ns() // 1_000_000
    reading = HybridLogicalClock().corrected_ms()
    after = time.time_ns() // 1_000_000
    assert type(reading) is int and before <= reading <= after


# --- observe() ---------------------------------------------------------------------------------


def test_observe_moves_past_a_remote_stamp_from_the_future() -> None:
    clock, _ = clock_at(T0)
    clock.now()
    remote = pack(T0 + 60_000, 9)
    clock.observe(remote)
    assert clock.last == remote
    assert clock.now() == remote + 1


def test_observe_an_older_stamp_changes_nothing() -> None:
    clock, _ = clock_at(T0)
    clock.now()
    clock.now()
    clock.observe(pack(T0 - 1, 500))
    assert clock.last == pack(T0, 1)
    assert clock.now() == pack(T0, 2)


def test_observe_a_stamp_in_the_current_millisecond_continues_its_counter() -> None:
    clock, _ = clock_at(T0)
    clock.now()
    clock.observe(pack(T0, 300))
    assert clock.now() == pack(T0, 301)


@pytest.mark.parametrize("bad", [-1, MAX_STAMP + 1, 1 << 64])
def test_observe_refuses_a_stamp_outside_the_range(bad: int) -> None:
    clock, _ = clock_at(T0)
    with pytest.raises(ClockError) as caught:
        clock.observe(bad)
    assert caught.value.reason == f"stamp {bad} is outside the clock's range"
    assert clock.last == 0


def test_observe_accepts_the_edges_of_the_range() -> None:
    clock, _ = clock_at(T0)
    clock.observe(0)
    assert clock.last == 0
    clock.observe(MAX_STAMP)
    assert clock.last == MAX_STAMP


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("wall"), st.integers(-86_400_000, 86_400_000)),
        st.tuples(st.just("observe"), st.integers(-70_000, 70_000)),
        st.tuples(st.just("now"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=200)
@given(steps=_steps)
def test_stamps_strictly_increase_and_pass_every_observed_stamp(
    steps: list[tuple[str, int]],
) -> None:
    clock, wall = clock_at(T0)
    issued: list[int] = []
    heard = 0
    for action, amount in steps:
        if action == "wall":
            wall.ms = T0 + amount
        elif action == "observe":
            remote = pack(T0 + amount // 1_000, abs(amount) % 1_000)
            clock.observe(remote)
            heard = max(heard, remote)
        else:
            stamp = clock.now()
            assert stamp > heard
            assert stamp >= pack(wall.ms, 0)
            if issued:
                assert stamp > issued[-1]
            issued.append(stamp)


# --- learn_offset() ----------------------------------------------------------------------------


def test_learn_offset_takes_the_server_time_at_the_middle_of_the_round_trip() -> None:
    clock, wall = clock_at(T0)
    # asked at T0, answered at T0 + 200; the server said T0 + 3h + 100 in between
    clock.learn_offset(server_ms=T0 + 10_800_000 + 100, sent_ms=T0, received_ms=T0 + 200)
    assert clock.offset_ms == 10_800_000
    wall.ms = T0 + 1_000
    assert clock.corrected_ms() == T0 + 10_801_000
    assert clock.now() == pack(T0 + 10_801_000, 0)


def test_learn_offset_can_be_negative_and_floors_an_odd_round_trip() -> None:
    clock, _ = clock_at(T0)
    clock.learn_offset(server_ms=T0 - 1_000, sent_ms=T0, received_ms=T0 + 3)
    assert clock.offset_ms == -1_001  # the middle of [T0, T0 + 3] is T0 + 1 in whole ms
    assert clock.corrected_ms() == T0 - 1_001


def test_learn_offset_replaces_the_previous_offset() -> None:
    clock, _ = clock_at(T0, offset_ms=500)
    clock.learn_offset(server_ms=T0 + 20, sent_ms=T0, received_ms=T0)
    assert clock.offset_ms == 20


def test_a_negative_offset_never_makes_stamps_go_back() -> None:
    clock, _ = clock_at(T0)
    first = clock.now()
    clock.learn_offset(server_ms=T0 - 60_000, sent_ms=T0, received_ms=T0)
    assert clock.now() == first + 1


# --- rewind() ----------------------------------------------------------------------------------


def test_rewind_returns_to_the_corrected_wall_clock_after_a_bad_clock() -> None:
    # the tablet's clock ran a day ahead; the registry refused its stamps and told it the time
    clock, wall = clock_at(T0 + 86_400_000)
    bad = [clock.now() for _ in range(3)]
    wall.ms += 50
    clock.learn_offset(server_ms=T0 + 50, sent_ms=wall.ms, received_ms=wall.ms)
    heard = pack(T0 - 10, 3)  # the latest stamp heard from another replica
    clock.rewind(heard)
    fresh = clock.now()
    assert physical_ms(fresh) == T0 + 50
    assert fresh < bad[0]
    assert fresh > heard


def test_rewind_never_goes_below_the_floor() -> None:
    clock, _ = clock_at(T0)
    floor = pack(T0 + 5_000, 17)  # another replica is ahead of our corrected clock
    clock.rewind(floor)
    assert clock.last == floor
    assert clock.now() == floor + 1


def test_rewind_to_a_floor_with_a_full_counter_borrows_the_next_millisecond() -> None:
    clock, _ = clock_at(T0)
    clock.rewind(pack(T0 + 1, MAX_COUNTER))
    assert clock.now() == pack(T0 + 2, 0)


@settings(max_examples=200)
@given(
    last=st.integers(0, 1 << 60),
    wall_ms=st.integers(0, 1 << 44),
    offset=st.integers(-(1 << 30), 1 << 30),
    floor=st.integers(0, 1 << 60),
    count=st.integers(1, 5),
)
def test_after_rewind_stamps_exceed_the_floor_and_follow_the_corrected_clock(
    last: int, wall_ms: int, offset: int, floor: int, count: int
) -> None:
    wall = FakeWall(wall_ms + (1 << 31))  # keep the corrected clock after the epoch
    clock = HybridLogicalClock(last=last, offset_ms=offset, wall_ms=wall)
    clock.rewind(floor)
    corrected = pack(clock.corrected_ms(), 0)
    stamps = [clock.now() for _ in range(count)]
    assert all(stamp > floor for stamp in stamps)
    assert all(stamp >= corrected for stamp in stamps)
    assert stamps[0] <= max(floor + 1, corrected + 1)  # no further than needed
    assert stamps == sorted(set(stamps))
