"""Bounded path and query parameters, declared once for every route.

Litestar checks each before the handler runs and answers 400 (``invalid_parameter``, with the
parameter named in ``errors``) otherwise; the OpenAPI document shows the bounds. They are those
of ``schemas.bounds``: an integer fits a signed 64-bit column, a key its 64-character column,
and no text carries a NUL, which PostgreSQL cannot compare or store.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from litestar.params import PathParameter, QueryParameter

from schemas.bounds import (
    KEY_LENGTH,
    KEY_PATTERN,
    NO_NUL,
    OPTIONAL_KEY_PATTERN,
)
from server.data.queries import MAX_GAP_S, STATUSES
from server.data.reference import KINDS

if TYPE_CHECKING:
    Kind = str
    Status = str
else:  # the names the registry knows, as Litestar checks them and the document lists them
    Kind = Literal[tuple(KINDS)]
    Status = Literal[("", *STATUSES)]

__all__ = ["AfterSeq", "AuditLimit", "CursorQuery", "DayQuery", "FileFormat", "GapQuery",
           "ImportKind",
           "KeyId", "KeyPath", "KeyQuery", "LogQuery", "PageLimit", "PullLimit", "RecordKind",
           "RegionQuery", "SearchQuery", "StatusQuery"]

KeyPath = Annotated[str, PathParameter(min_length=1, max_length=KEY_LENGTH,
                                       pattern=KEY_PATTERN)]
"""The id of a record in the path: an inspector, an assignment, a device, a protocol."""
KeyId = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{16}$",
                                     description="A signing key's id: 16 hexadecimal digits.")]
RecordKind = Annotated[Kind, PathParameter()]

KeyQuery = Annotated[str, QueryParameter(max_length=KEY_LENGTH,
                                         pattern=OPTIONAL_KEY_PATTERN)]
"""A record id to select by or start after; empty for none."""
SearchQuery = Annotated[str, QueryParameter(max_length=200, pattern=NO_NUL)]
"""Text to select by (a protocol number, a STIR, part of a name); empty for any."""
RegionQuery = Annotated[str, QueryParameter(max_length=100, pattern=OPTIONAL_KEY_PATTERN)]
"""A region's name, whole; empty for any."""
LogQuery = Annotated[str, QueryParameter(max_length=100, pattern=OPTIONAL_KEY_PATTERN)]
"""An audit entry's actor, action or subject, whole (as long as the log's columns); empty for
any."""
StatusQuery = Annotated[Status, QueryParameter(description="Empty for any.")]
DayQuery = Annotated[dt.date | None, QueryParameter(description="A day, YYYY-MM-DD.")]
GapQuery = Annotated[int | None, QueryParameter(
    ge=-MAX_GAP_S, le=MAX_GAP_S, description="An offline gap, seconds from a signature's time "
    "to its receipt (inclusive).")]
AfterSeq = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
"""An audit entry's number: the log counts its entries in a 32-bit column."""
PageLimit = Annotated[int, QueryParameter(ge=1, le=500)]
AuditLimit = Annotated[int, QueryParameter(ge=1, le=1000)]
PullLimit = Annotated[int | None, QueryParameter(
    ge=1, le=100_000, description="Protocols a page holds at most; the registry's page size "
    "(`pull_page_protocols`) is the most it takes.")]
CursorQuery = Annotated[str, QueryParameter(max_length=400, pattern=NO_NUL)]
FileFormat = Annotated[Literal["jsonl", "csv"], QueryParameter()]
ImportKind = Annotated[Kind | Literal[""], QueryParameter(
    description="The kind of every record of a CSV file; JSON lines may name their own.")]
