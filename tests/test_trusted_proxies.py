"""Who the client is, behind a reverse proxy: ``X-Forwarded-For`` is read only when the direct
peer is a trusted proxy (``--trusted-proxies``), and then its rightmost address that is not a
trusted proxy is the client, for the check's rate limit, the console's sign-in audit and the
access log. A registry trusting no proxy takes the direct peer, whatever a request claims."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from field_sync_cli.local_server import LocalServer
from tests.console_people import csrf_token, person
from tests.databases import dispose_database, fresh_database, query

pytestmark = pytest.mark.e2e

PROXY = "127.0.0.2"
LIMIT = 2
"""Checks by number a client may make in a minute, on these registries."""
CHECK = {"number": "TR-NONE", "stir": "301245678"}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A registry whose proxy is at 127.0.0.2 (a loopback address of its own) or in
    10.1.0.0/16; requests from 127.0.0.1 come from no proxy it trusts."""
    folder = tmp_path_factory.mktemp("behind-proxy")
    url = fresh_database(folder)
    with LocalServer(folder / "registry", "admin-" + secrets.token_urlsafe(16), db_url=url,
                     options=("--check-requests-per-minute", str(LIMIT), "--log-format",
                              "json", "--log-level", "info", "--trusted-proxies", PROXY,
                              "--trusted-proxies", "10.1.0.0/16")) as server:
        yield server
    dispose_database(url)


def _client(server: LocalServer, source: str, forwarded_for: str) -> httpx.Client:
    """A client connecting from ``source`` (a loopback address) with ``X-Forwarded-For``."""
    return httpx.Client(base_url=server.url, timeout=30,
                        transport=httpx.HTTPTransport(local_address=source),
                        headers={"X-Forwarded-For": forwarded_for})


def _checked(server: LocalServer, source: str, forwarded_for: str) -> int:
    with _client(server, source, forwarded_for) as client:
        return client.get("/v1/check", params=CHECK).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(registry: LocalServer) -> None:
    """Addresses a client writes itself (left of the last untrusted hop) change nothing; the
    hop a trusted proxy appended does."""
    first = [_checked(registry, PROXY, f"198.51.100.{index}, 203.0.113.7, 10.1.2.3")
             for index in range(LIMIT + 1)]
    assert first == [200] * LIMIT + [429]
    assert _checked(registry, PROXY, "203.0.113.8") == 200
    lines = [msgspec.json.decode(line) for line in
             (registry.data_dir / "server.log").read_text().splitlines() if line.strip()]
    clients = {line.get("client") for line in lines if line.get("path") == "/v1/check"}
    assert {"203.0.113.7", "203.0.113.8"} <= clients


def test_from_a_peer_not_trusted_the_header_is_not_believed(registry: LocalServer) -> None:
    answers = [_checked(registry, "127.0.0.1", f"203.0.113.{index}")
               for index in range(LIMIT + 1)]
    assert answers == [200] * LIMIT + [429]


def test_a_sign_in_is_audited_with_the_client_s_address(registry: LocalServer) -> None:
    who = person(registry, f"kamola-{secrets.token_hex(3)}", "supervisor")
    with _client(registry, PROXY, "192.0.2.44") as client:
        page = client.get("/console/sign-in")
        refused = client.post("/console/sign-in", data={
            "name": who.name, "password": "not the password", "_csrf_token": csrf_token(page)})
    assert refused.status_code == 401
    rows = query(registry.db_url, "SELECT detail FROM audit_entry WHERE action = "
                 "'sign_in_failed' AND subject = :name", name=who.name)
    assert [msgspec.json.decode(detail)["address"] for (detail,) in rows] == ["192.0.2.44"]
