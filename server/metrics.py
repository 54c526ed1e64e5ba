"""Prometheus metrics of the registry, served at ``GET /metrics``.

Counted from what the routes return, never inside ingest's loop:

- per route: ``field_sync_requests_total`` and ``field_sync_request_duration_seconds`` (Litestar's
  Prometheus middleware, by method, route template and status);
- ``field_sync_ops_total{status, code}``: pushed ops accepted, duplicate, and rejected by code;
- ``field_sync_totp_failures_total{code}``: signatures refused for their one-time code;
- ``field_sync_pull_pages_total`` and ``field_sync_pull_bytes_total`` (before compression);
- ``field_sync_db_connections_in_use{pool}`` and ``field_sync_db_pool_size{pool}``.

Read from the database when scraped (so every worker answers the same, and a restart loses
nothing), at most every ``_STATE_TTL_S``:

- ``field_sync_protocols{status}``: protocols by status (draft, registered, quarantined, ...);
- ``field_sync_quarantined_protocols{rule, code}``: quarantined protocols by broken rule;
- ``field_sync_totp_locked_inspectors``: inspectors whose one-time codes are locked now;
- ``field_sync_devices_seen_24h``: devices heard from in the last day (their last contact is
  kept to the hour, ``server.api.auth``).

With ``serve --workers N`` the workers share their counts through prometheus_client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Iterable, Iterator
from operator import attrgetter

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event, func
from sqlmodel import Session, col, select

from schemas import OpResult
from server.data.database import Database
from server.data.tables import DeviceRow, ProtocolRow, TotpSecretRow

__all__ = ["DatabaseGauges", "count_pull", "count_push", "exposition", "instrument_pools"]

_DAY_MS = 24 * 3600 * 1000
_STATE_TTL_S = 15.0
_TOTP_CODES = frozenset({"totp_invalid", "totp_replayed", "totp_locked"})

OPS = Counter("field_sync_ops", "Pushed ops by outcome: accepted, duplicate, or rejected with "
              "its code.", ["status", "code"])
TOTP_FAILURES = Counter("field_sync_totp_failures", "Signatures refused for their one-time "
                        "code: wrong, replayed, or while locked.", ["code"])
PULL_PAGES = Counter("field_sync_pull_pages", "Pull pages served.")
PULL_BYTES = Counter("field_sync_pull_bytes", "Bytes of pull pages served, before compression.")
DB_IN_USE = Gauge("field_sync_db_connections_in_use", "Database connections checked out of the "
                  "pool.", ["pool"], multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge("field_sync_db_pool_size", "Connections the pool keeps open.", ["pool"],
                     multiprocess_mode="livesum")

_outcome = attrgetter("status", "code")


def count_push(results: Iterable[OpResult],
               protocols: Iterable[tuple[str, int]] = ()) -> None:
    """Count a push's results by status and code (grouped first: a push may carry 50,000),
    and the ops of protocols pushed whole answered as one: ``(status, how many ops)``."""
    counted = collections.Counter(map(_outcome, results))
    for status, ops in protocols:
        counted[(status, "")] += ops
    for (status, code), count in counted.items():
        OPS.labels(status, code).inc(count)
        if code in _TOTP_CODES:
            TOTP_FAILURES.labels(code).inc(count)


def count_pull(body_bytes: int) -> None:
    """Count a pull page of ``body_bytes``."""
    PULL_PAGES.inc()
    PULL_BYTES.inc(body_bytes)


def instrument_pools(database: Database) -> None:
    """Keep the connection-pool gauges of ``database``'s engines."""
    engines = {"writer": database.writer}
    if database.reader.pool is not database.writer.pool:
        engines["reader"] = database.reader
    for name, engine in engines.items():
        in_use = DB_IN_USE.labels(name)
        size = getattr(engine.pool, "size", None)
        if callable(size):
            DB_POOL_SIZE.labels(name).set(size())
        event.listen(engine, "checkout", lambda *_, gauge=in_use: gauge.inc())
        event.listen(engine, "checkin", lambda *_, gauge=in_use: gauge.dec())


class DatabaseGauges:
    """The families read from the registry's database, cached for ``_STATE_TTL_S``; one per
    running app."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._read_at = -_STATE_TTL_S
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        """The families, read again when older than ``_STATE_TTL_S``."""
        with self._lock:
            if time.monotonic() - self._read_at >= _STATE_TTL_S:
                with self.database.read() as session:
                    self._families = _state_families(session)
                self._read_at = time.monotonic()
            yield from self._families


def _state_families(session: Session) -> list[Metric]:
    protocols = GaugeMetricFamily("field_sync_protocols", "Protocols by status.",
                                  labels=["status"])
    for status, count in session.exec(select(ProtocolRow.status, func.count())
                                      .group_by(col(ProtocolRow.status))):
        protocols.add_metric([status], count)
    rules: collections.Counter[tuple[str, str]] = collections.Counter()
    for reasons in session.exec(select(ProtocolRow.reasons)
                                .where(ProtocolRow.status == "quarantined")):
        for line in reasons.splitlines():  # "rule 3 attestation_lapsed: ..."
            words = line.split(":", 1)[0].split()
            if len(words) == 3 and words[0] == "rule":
                rules[words[1], words[2]] += 1
    quarantined = GaugeMetricFamily("field_sync_quarantined_protocols", "Quarantined protocols "
                                    "by broken rule.", labels=["rule", "code"])
    for (rule, code), count in sorted(rules.items()):
        quarantined.add_metric([rule, code], count)
    now_ms = time.time_ns() // 1_000_000
    locked = session.exec(select(func.count()).select_from(TotpSecretRow)
                          .where(TotpSecretRow.locked_until_ms > now_ms)).one()
    seen = session.exec(select(func.count()).select_from(DeviceRow)
                        .where(DeviceRow.last_seen_ms >= now_ms - _DAY_MS)).one()
    return [protocols, quarantined,
            GaugeMetricFamily("field_sync_totp_locked_inspectors", "Inspectors whose one-time "
                              "codes are locked now.", value=locked),
            GaugeMetricFamily("field_sync_devices_seen_24h", "Devices heard from in the last "
                              "day (to the hour).", value=seen)]


def exposition(gauges: DatabaseGauges) -> bytes:
    """The metrics in Prometheus' text format (blocking: it may read the database)."""
    scrape = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
    else:
        scrape.register(REGISTRY)
    scrape.register(gauges)
    return bytes(generate_latest(scrape))
