"""The console's session lifetime, sign-in lockout and invitation lifetime are the registry's
settings (``--console-session-s``, ``--console-max-failures``, ``--console-lockout-s``,
``--console-invitation-ttl-s``), on a real ``field-sync serve``."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from field_sync_cli.local_server import LocalServer
from tests.console_people import csrf_token, person, signed_in
from tests.databases import dispose_database, execute, fresh_database, query

pytestmark = pytest.mark.e2e

SESSION_S, MAX_FAILURES, LOCKOUT_S, INVITATION_S = 600, 2, 120, 3600


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    folder = tmp_path_factory.mktemp("console-settings")
    url = fresh_database(folder)
    with LocalServer(folder / "registry", "admin-" + secrets.token_urlsafe(16), db_url=url,
                     options=("--console-session-s", str(SESSION_S), "--console-max-failures",
                              str(MAX_FAILURES), "--console-lockout-s", str(LOCKOUT_S),
                              "--console-invitation-ttl-s", str(INVITATION_S))) as server:
        yield server
    dispose_database(url)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _near(value_ms: int, expected_ms: int) -> bool:
    return abs(value_ms - expected_ms) < 60_000


def test_a_session_lasts_the_configured_time(registry: LocalServer) -> None:
    root = person(registry, f"root-{secrets.token_hex(3)}", "administrator")
    client = signed_in(registry, root)
    try:
        assert client.get("/console").url.path == "/console"
        (expires_ms,) = [row[0] for row in query(registry.db_url,
                                                 "SELECT expires_at_ms FROM web_session")]
        assert _near(expires_ms, _now_ms() + SESSION_S * 1000)
        # Signed in longer ago than the lifetime: the session has ended.
        (data,) = [row[0] for row in query(registry.db_url, "SELECT data FROM web_session")]
        kept = msgspec.json.decode(bytes(data))
        execute(registry.db_url, "UPDATE web_session SET data = :data",
                data=msgspec.json.encode({**kept, "since": _now_ms() - SESSION_S * 1000 - 1}))
        assert client.get("/console").url.path == "/console/sign-in"
    finally:
        client.close()


def test_failures_lock_an_account_as_configured(registry: LocalServer) -> None:
    who = person(registry, f"ana-{secrets.token_hex(3)}", "supervisor")
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        for _ in range(MAX_FAILURES):
            page = client.get("/console/sign-in")
            client.post("/console/sign-in", data={
                "name": who.name, "password": "not the password",
                "_csrf_token": csrf_token(page)})
    ((locked_until_ms,),) = query(registry.db_url, "SELECT locked_until_ms FROM account "
                                  "WHERE id = :name", name=who.name)
    assert _near(locked_until_ms, _now_ms() + LOCKOUT_S * 1000)


def test_an_invitation_lasts_the_configured_time(registry: LocalServer) -> None:
    root = person(registry, f"root-{secrets.token_hex(3)}", "administrator")
    client = signed_in(registry, root)
    try:
        page = client.get("/console/admin/accounts")
        name = f"yangi-{secrets.token_hex(3)}"
        made = client.post("/console/admin/accounts/", data={
            "id": name, "full_name": "Yangi Nazoratchi", "role": "supervisor",
            "_csrf_token": csrf_token(page)})
        assert made.status_code == 200 and "/console/invitation/" in made.text
    finally:
        client.close()
    ((expires_ms,),) = query(registry.db_url, "SELECT invitation_expires_ms FROM account "
                             "WHERE id = :name", name=name)
    assert _near(int(expires_ms), _now_ms() + INVITATION_S * 1000)
