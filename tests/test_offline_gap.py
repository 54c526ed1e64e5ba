"""Supervisors see, for every signature, how long after its signing time it reached the
registry: the tablet's offline gap, kept per signed protocol, listed and exported, and a filter
of the registry queries (``gap_min_s``, ``gap_max_s``), over HTTP from a real `field-sync serve`.

The registry's clock is moved three days on while a tablet holds a signature, so the signatures
come in with gaps of seconds, an hour and three days; the queries then run on a registry
process serving that database."""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest

from client_lib import Tablet
from field_sync_cli.local_server import LocalServer
from server.data.reference import put_record
from tests.databases import dispose_database, fresh_database
from tests.inprocess import InProcessRegistry
from tests.live import AUTHENTICATORS, PASSPHRASE, complete_protocol, fresh_code, totp_code

pytestmark = pytest.mark.e2e

HOUR_MS, DAY_MS = 3_600_000, 86_400_000


class _Gaps:
    """The protocols (by gap) and the registry process that lists them."""

    def __init__(self, server: LocalServer, protocols: dict[str, str],
                 gaps: dict[str, int]) -> None:
        self.server = server
        self.protocols = protocols
        self.gaps = gaps

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.server.url}{path}", params=params, timeout=30, headers={
            "Authorization": f"Bearer {self.server.admin_token}", "Accept": "application/json"})

    def listed(self, **params: Any) -> dict[str, int | None]:
        """Protocol name to the offline gap the registry lists for it, for a query."""
        response = self.get("/v1/registry/protocols", limit=500, **params)
        assert response.status_code == 200, response.text
        names = {protocol_id: name for name, protocol_id in self.protocols.items()}
        return {names[found["id"]]: found.get("offline_gap_ms")
                for found in response.json()["protocols"] if found["id"] in names}


@pytest.fixture(scope="module")
def gaps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Gaps]:
    folder = tmp_path_factory.mktemp("gaps")
    url = fresh_database(folder / "registry")
    shift = [0]
    registry = InProcessRegistry(folder / "registry", url, signed_freezes=True,
                                 clock=lambda: time.time_ns() // 1_000_000 + shift[0])
    inspector = f"insp-gap-{secrets.token_hex(4)}"
    registry.add_inspector(inspector)
    attested = {"id": inspector, "full_name": "Inspector", "attested_until": "2099-12-31"}
    put_record(registry.database, "inspector", attested)
    registry.put_assignment("assignment-gap", [inspector])
    tablet = Tablet(folder / "tablet.sqlite", PASSPHRASE, transport=registry.transport)
    tablet.enroll(registry.enrollment_code(inspector), "https://registry.test")
    AUTHENTICATORS[inspector] = pyotp.parse_uri(registry.totp_uris[inspector])
    assert tablet.sync().ok
    protocols = {name: complete_protocol(tablet, "assignment-gap", f"TR-GAP-{name}")
                 for name in ("at once", "three days", "an hour", "draft")}
    for name in ("at once", "three days", "an hour"):
        with tablet.edit(protocols[name]) as edit:
            edit.set("conclusion", "compliant")
    assert tablet.sync().ok

    tablet.sign(protocols["at once"], fresh_code(tablet))
    assert tablet.sync().ok
    tablet.sign(protocols["three days"], fresh_code(tablet))  # then offline for three days
    shift[0] = 3 * DAY_MS
    assert tablet.sync().ok
    # Offline an hour, while its attestation lapsed; its clock corrected by the registry's.
    tablet.sign(protocols["an hour"],
                totp_code(tablet, at_ms=tablet.signing_time(protocols["an hour"])))
    put_record(registry.database, "inspector", {**attested, "attested_until": "2020-01-01"})
    shift[0] += HOUR_MS
    assert tablet.sync().ok
    statuses = {name: tablet.status(protocols[name])[0] for name in protocols}
    assert statuses == {"at once": "registered", "three days": "registered",
                        "an hour": "quarantined", "draft": "draft"}
    receipt = tablet.receipt(protocols["three days"])
    signature = tablet.signature(protocols["three days"])
    assert receipt is not None and signature is not None
    exact = {"three days": receipt.registered_at_ms - signature.statement.signed_at_ms}
    tablet.close()
    registry.close()

    with LocalServer(folder / "serve", secrets.token_urlsafe(16), db_url=url) as server:
        yield _Gaps(server, protocols, exact)
    dispose_database(url)


def test_every_signature_shows_its_offline_gap(gaps: _Gaps) -> None:
    listed = gaps.listed()
    assert listed["draft"] is None
    assert listed["three days"] == gaps.gaps["three days"]
    assert 3 * DAY_MS <= gaps.gaps["three days"] < 3 * DAY_MS + 60_000
    at_once, an_hour = listed["at once"], listed["an hour"]
    assert at_once is not None and -60_000 < at_once < 60_000
    assert an_hour is not None and HOUR_MS <= an_hour < HOUR_MS + 60_000
    quarantine = gaps.get("/v1/supervisor/quarantine").json()["protocols"]
    assert [found["offline_gap_ms"] for found in quarantine
            if found["id"] == gaps.protocols["an hour"]] == [an_hour]


def test_registry_queries_filter_on_the_offline_gap(gaps: _Gaps) -> None:
    assert set(gaps.listed(gap_min_s=86_400)) == {"three days"}
    assert set(gaps.listed(gap_min_s=1_800, gap_max_s=7_200)) == {"an hour"}
    assert set(gaps.listed(gap_max_s=60)) == {"at once"}
    assert set(gaps.listed(gap_min_s=-60)) == {"at once", "three days", "an hour"}


def test_the_export_carries_and_filters_on_the_offline_gap(gaps: _Gaps) -> None:
    exported = gaps.get("/v1/registry/export", format="csv", gap_min_s=86_400)
    assert exported.status_code == 200 and exported.headers["x-total-count"] == "1"
    (row,) = csv.DictReader(io.StringIO(exported.text))
    assert (row["id"], row["offline_gap_ms"]) == (gaps.protocols["three days"],
                                                 str(gaps.gaps["three days"]))
    lines = gaps.get("/v1/registry/export", format="jsonl", gap_max_s=7_200).text.splitlines()
    assert sorted(httpx.Response(200, content=line).json()["summary"]["number"]
                  for line in lines if gaps.protocols["draft"] not in line) == [
        "TR-GAP-an hour", "TR-GAP-at once"]


@pytest.mark.parametrize(("params", "code"), [
    ({"gap_min_s": 10, "gap_max_s": 5}, "bad_gap"),
    ({"gap_min_s": 10**12}, "invalid_parameter"),
    ({"gap_max_s": -(10**12)}, "invalid_parameter"),
    ({"gap_min_s": "soon"}, "invalid_parameter"),
])
@pytest.mark.parametrize("path", ["/v1/registry/protocols", "/v1/registry/export"])
def test_a_gap_out_of_bounds_is_a_clear_400(gaps: _Gaps, path: str, params: dict[str, Any],
                                            code: str) -> None:
    refused = gaps.get(path, **params)
    assert (refused.status_code, refused.json()["code"]) == (400, code)
