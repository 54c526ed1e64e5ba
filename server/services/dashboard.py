"""The dashboard's figures: protocols signed a day by status, quarantined ones by the rule they
broke, tablets not heard from, signatures that reached the registry long after they were made,
and accounts and inspectors locked out by failed one-time codes. All within the reader's
reach."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from server.data.tables import (
    AccountRow,
    DeviceRow,
    InspectorRow,
    ProtocolRow,
    ReceiptRow,
    TotpSecretRow,
)
from server.services.reach import Reach
from server.signing.reasons import broken_rule

__all__ = ["DAY_MS", "Dashboard", "Gap", "Lockout", "QuietDevice", "dashboard"]

DAY_MS = 86_400_000
_OFFSET_MS = 5 * 3_600_000  # the agency's days: Tashkent keeps UTC+05:00 all year


class QuietDevice(msgspec.Struct, frozen=True):
    """A tablet not heard from lately."""

    device_id: str
    inspector_id: str
    name: str
    last_seen_ms: int


class Gap(msgspec.Struct, frozen=True):
    """A signature the registry received long after it was made."""

    protocol_id: str
    number: str
    inspector_id: str
    signed_at_ms: int
    received_at_ms: int

    @property
    def gap_ms(self) -> int:
        """How long the tablet held it."""
        return self.received_at_ms - self.signed_at_ms


class Lockout(msgspec.Struct, frozen=True):
    """An account or an inspector locked out after failed codes, until when."""

    kind: str
    """``account`` or ``inspector``."""
    id: str
    until_ms: int


class Dashboard(msgspec.Struct, frozen=True):
    """The figures, for ``days`` days up to ``today`` (a day number, Tashkent)."""

    days: int
    first_day_ms: int
    per_day: dict[int, dict[str, int]]
    """Day start (ms) to status to protocols signed that day."""
    by_rule: dict[str, int]
    quiet: tuple[QuietDevice, ...]
    gaps: tuple[Gap, ...]
    lockouts: tuple[Lockout, ...]


def _day_start(at_ms: int) -> int:
    """The start (ms) of the agency's day holding ``at_ms``."""
    return (at_ms + _OFFSET_MS) // DAY_MS * DAY_MS - _OFFSET_MS


def _per_day(session: Session, reach: Reach, since_ms: int) -> dict[int, dict[str, int]]:
    day = ((col(ProtocolRow.signed_at_ms) + _OFFSET_MS) // DAY_MS).label("day")
    statement = reach.narrow(select_columns(day, col(ProtocolRow.status), func.count())
                             .where(col(ProtocolRow.signed_at_ms) >= since_ms)
                             .group_by(day, col(ProtocolRow.status)))
    counts: dict[int, dict[str, int]] = {}
    for number, status, total in session.execute(statement):
        counts.setdefault(int(number) * DAY_MS - _OFFSET_MS, {})[status] = int(total)
    return counts


def _by_rule(session: Session, reach: Reach) -> dict[str, int]:
    reasons = session.execute(reach.narrow(select_columns(col(ProtocolRow.reasons)).where(
        col(ProtocolRow.status) == "quarantined")))
    rules: Counter[str] = Counter()
    for (text,) in reasons:
        rules.update({rule[0] for line in text.splitlines() if (rule := broken_rule(line))})
    return dict(rules.most_common())


def _quiet(session: Session, reach: Reach, before_ms: int) -> tuple[QuietDevice, ...]:
    statement: Any = select(DeviceRow).join(
        InspectorRow, col(InspectorRow.id) == col(DeviceRow.inspector_id)).where(
        col(DeviceRow.revoked_at).is_(None), col(DeviceRow.last_seen_ms) < before_ms)
    if reach.regions is not None:
        statement = statement.where(col(InspectorRow.region).in_(sorted(reach.regions)))
    rows = session.exec(statement.order_by(col(DeviceRow.last_seen_ms)).limit(50))
    return tuple(QuietDevice(row.id, row.inspector_id, row.name, row.last_seen_ms)
                 for row in rows)


def _gaps(session: Session, reach: Reach, since_ms: int, longer_ms: int) -> tuple[Gap, ...]:
    gap = col(ReceiptRow.registered_at_ms) - col(ProtocolRow.signed_at_ms)
    statement = reach.narrow(select_columns(
        col(ProtocolRow.id), col(ProtocolRow.number), col(ProtocolRow.inspector_id),
        col(ProtocolRow.signed_at_ms), col(ReceiptRow.registered_at_ms))
        .join(ReceiptRow, col(ReceiptRow.protocol_id) == col(ProtocolRow.id))
        .where(col(ProtocolRow.signed_at_ms) >= since_ms, gap > longer_ms)
        .order_by(gap.desc()).limit(20))
    return tuple(Gap(*row) for row in session.execute(statement))


def _lockouts(session: Session, now_ms: int) -> tuple[Lockout, ...]:
    accounts = session.exec(select(AccountRow).where(col(AccountRow.locked_until_ms) > now_ms))
    inspectors = session.exec(select(TotpSecretRow).where(
        col(TotpSecretRow.locked_until_ms) > now_ms))
    return (tuple(Lockout("account", row.id, row.locked_until_ms) for row in accounts)
            + tuple(Lockout("inspector", row.inspector_id, row.locked_until_ms)
                    for row in inspectors))


def dashboard(session: Session, reach: Reach, now_ms: int, days: int = 14,
              quiet_days: int = 7, gap_days: int = 3) -> Dashboard:
    """The figures for the last ``days`` days, tablets silent for ``quiet_days`` and
    signatures held over ``gap_days``."""
    first = _day_start(now_ms) - (days - 1) * DAY_MS
    gap_ms = int(timedelta(days=gap_days).total_seconds() * 1000)
    return Dashboard(days=days, first_day_ms=first, per_day=_per_day(session, reach, first),
                     by_rule=_by_rule(session, reach),
                     quiet=_quiet(session, reach, now_ms - quiet_days * DAY_MS),
                     gaps=_gaps(session, reach, first, gap_ms),
                     lockouts=_lockouts(session, now_ms))
