"""Who acts, and which regions' protocols they reach.

A supervisor may be limited to regions (a protocol's region is its site's). Whatever lists,
exports, opens or acts on protocols narrows by the caller's reach, and a protocol out of reach
answers as if it did not exist: its id is not to be probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlmodel import col

from server.api.problems import NotFound
from server.data.tables import ProtocolRow

__all__ = ["ADMINISTRATOR", "Reach", "format_regions", "parse_regions"]

_Selection = TypeVar("_Selection", bound=Select[*tuple[Any, ...]])


def parse_regions(text: str) -> frozenset[str] | None:
    """Regions stored one a line; an empty text means every region (None)."""
    regions = frozenset(line.strip() for line in text.splitlines() if line.strip())
    return regions or None


def format_regions(regions: Iterable[str]) -> str:
    """Regions as stored: sorted, one a line, blanks dropped."""
    return "\n".join(sorted({region.strip() for region in regions if region.strip()}))


@dataclass(frozen=True)
class Reach:
    """An actor as the audit log names it (``admin``, ``supervisor:<id>``, ``account:<id>``)
    and the regions whose protocols it reaches (None: every region)."""

    actor: str
    regions: frozenset[str] | None = None

    def admits(self, region: str) -> bool:
        """Whether a protocol of ``region`` is within reach."""
        return self.regions is None or region in self.regions

    def narrow(self, statement: _Selection) -> _Selection:
        """``statement`` over protocols, limited to the regions within reach."""
        if self.regions is None:
            return statement
        if not self.regions:
            return statement.where(false())
        return statement.where(col(ProtocolRow.region).in_(sorted(self.regions)))

    def protocol(self, row: ProtocolRow | None, protocol_id: str) -> ProtocolRow:
        """``row`` if it exists and is within reach; 404 otherwise, the same for both."""
        if row is None or not self.admits(row.region):
            raise NotFound("unknown_protocol", f"no protocol {protocol_id!r} in your reach")
        return row


ADMINISTRATOR = Reach("admin")
"""The administrator's token: every region."""
