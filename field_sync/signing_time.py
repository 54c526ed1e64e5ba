"""When a signature may be dated: never before anything known to have come before it, and never
after the registry received it (give or take the clock bound).

A device's sequence numbers and clock only move forward, so a signature is dated no earlier than
each of its *floors*: the stamps of the ops the device made before it, the latest stamp among
the ops it signs, its location fix, the enrollment of its key, and the registry time the device
had last been told. The registry checks every floor it can tell, with the codes below; the
tablet checks the same ones offline, from its own records, and signs at the earliest time they
all allow (its hybrid clock may run ahead of its wall clock after it heard a teammate's stamp).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from field_sync.errors import FieldSyncError

__all__ = [
    "CLOCK_BOUND_MS",
    "EARLIER_OP",
    "KEY",
    "LOCATION",
    "REGISTRY_TIME",
    "SIGNED_IN_FUTURE",
    "SIGNED_OP",
    "Floor",
    "SigningTimeRefused",
    "check_signing_time",
]

CLOCK_BOUND_MS = 5 * 60 * 1000
"""How far ahead of the registry's clock a stamp or a signing time may be (the registry's
default; ``max_clock_ahead_ms`` in its settings)."""
SIGNED_IN_FUTURE = "signed_in_future"


class SigningTimeRefused(FieldSyncError, ValueError):
    """A signing time outside its bounds; ``code`` says which bound."""

    code = "signing_time"


@dataclass(frozen=True)
class Floor:
    """Something a signature cannot be dated before: its refusal code, and what it is."""

    code: str
    what: str


EARLIER_OP = Floor("signed_before_earlier_op", "an op the device made before it, stamped")
SIGNED_OP = Floor("signed_before_its_ops", "an op it signs, stamped")
LOCATION = Floor("signed_before_location", "its location fix, taken")
KEY = Floor("key_not_yet_valid", "the enrollment of its key,")
REGISTRY_TIME = Floor("signed_before_registry_time", "the registry time the device was told,")


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def check_signing_time(signed_at_ms: int, floors: Iterable[tuple[Floor, int]],
                       latest_ms: int) -> None:
    """Raise ``SigningTimeRefused`` unless ``signed_at_ms`` is no earlier than each floor's
    time (ms) and no later than ``latest_ms``.

    Args:
        signed_at_ms: the signature's time.
        floors: each floor and its time, in the order they are checked.
        latest_ms: the latest time allowed: the registry's receipt, or the tablet's own
            clock, plus the clock bound.
    """
    for floor, at_ms in floors:
        if signed_at_ms < at_ms:
            raise SigningTimeRefused(f"the signature is dated {_when(signed_at_ms)}, before "
                                     f"{floor.what} {_when(at_ms)}", code=floor.code)
    if signed_at_ms > latest_ms:
        raise SigningTimeRefused(f"the signature is dated {_when(signed_at_ms)}, after the "
                                 f"latest time its clock allows, {_when(latest_ms)}",
                                 code=SIGNED_IN_FUTURE)
