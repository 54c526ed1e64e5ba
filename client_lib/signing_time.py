"""When a tablet signs: the earliest time its own records allow, checked, offline, as the
registry will check it (``field_sync.signing_time``).

The floors the tablet knows are the registry time it was last told, the stamps of its own ops,
the latest stamp of the protocol it signs and its location fix. Its hybrid clock may run ahead
of its wall clock after it heard a teammate's stamp, so it signs at the latest of its corrected
wall clock, its clock's last stamp and those floors, and refuses (``clock_behind``) when that is
more than the clock bound ahead of its wall clock (the clock was set back, or a fix is dated
ahead of it), or, confirmed by a one-time code, more than a code's step.
"""

from __future__ import annotations

from client_lib.errors import SigningTimeRefused
from client_lib.store import DeviceStore
from field_sync import DocumentState, HybridLogicalClock, physical_ms
from field_sync import signing_time as bounds
from field_sync.confirmation import TOTP_STEP_S
from field_sync.signing_time import EARLIER_OP, LOCATION, REGISTRY_TIME, SIGNED_OP, Floor
from schemas.signing import Confirmation, LocationFix, TotpConfirmation

__all__ = ["check_time", "earliest", "floors"]


def floors(store: DeviceStore, state: DocumentState,
           location: LocationFix | None) -> list[tuple[Floor, int]]:
    """What the tablet knows a signature of ``state`` cannot be dated before."""
    known = [(EARLIER_OP, physical_ms(store.highest_stamp())),
             (SIGNED_OP, physical_ms(max((r.hlc for r in state.registers.values()), default=0)))]
    told = store.registry_time()
    if told is not None:
        known.append((REGISTRY_TIME, told.at_ms))
    if location is not None:
        known.append((LOCATION, location.at_ms))
    return known


def earliest(clock: HybridLogicalClock, known: list[tuple[Floor, int]]) -> int:
    """The time to sign at: the latest of the corrected wall clock, the clock's last stamp and
    every floor."""
    return max(clock.corrected_ms(), physical_ms(clock.last), *(at for _, at in known))


def check_time(signed_at_ms: int, known: list[tuple[Floor, int]], clock: HybridLogicalClock,
               confirmation: Confirmation, registry_known: bool, chosen: bool) -> None:
    """``SigningTimeRefused`` unless the registry would take ``signed_at_ms`` (``chosen`` by
    the app, else ``earliest``), as far as the tablet can tell."""
    if not registry_known:
        raise SigningTimeRefused("registry_time_missing", "this tablet has not been told the "
                                 "registry's time since its app was updated: sync once first")
    now = clock.corrected_ms()
    ahead_s = (signed_at_ms - now) / 1000
    try:
        bounds.check_signing_time(signed_at_ms, known, now + bounds.CLOCK_BOUND_MS)
    except bounds.SigningTimeRefused as exc:
        if exc.code == bounds.SIGNED_IN_FUTURE and not chosen:  # it was not asked for: lifted
            raise SigningTimeRefused("clock_behind", f"the signing time is {ahead_s:.0f} s "
                                     "ahead of this tablet's clock, which is behind what it "
                                     "has seen (stamps, the registry's time, the fix): set "
                                     "the clock right and sync") from exc
        raise SigningTimeRefused(exc.code, exc.reason) from exc
    if isinstance(confirmation, TotpConfirmation) and ahead_s > TOTP_STEP_S:
        raise SigningTimeRefused("clock_behind", f"the signing time is {ahead_s:.0f} s ahead "
                                 "of this tablet's clock: a one-time code typed now would not "
                                 "match it; set the clock right and sync, or confirm with the "
                                 "biometric")
