"""The console given what no one should type, against a real `field-sync serve`: a field longer
than it takes, a NUL (which PostgreSQL cannot keep), a date past the calendar, an address that
names no record. Each is a page saying what is wrong (400, in the reader's words, the field
named where there is one), and nothing changes: no record, no audit entry, no failed sign-in
counted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from server import Database
from tests.console_people import csrf_token, person, signed_in
from tests.live import complete_protocol, fresh_code, team
from tests.unchanged import snapshot

pytestmark = pytest.mark.e2e

NUL = "\u0000"


@dataclass(frozen=True)
class Desk:
    """An administrator and a supervisor signed in, and records to aim their forms at."""

    root: httpx.Client
    ana: httpx.Client
    protocol: str
    inspector: str
    assignment: str
    device: str
    kid: str


@pytest.fixture(scope="module")
def desk(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    opened: list[Tablet] = []
    admin = AdminClient(server.url, server.admin_token)
    assignment, (tablet,) = team(admin, server, tmp_path_factory.mktemp("desk"), 1, opened)
    protocol = complete_protocol(tablet, assignment, f"TR-IN{secrets.token_hex(3)}")
    with tablet.edit(protocol) as edit:
        edit.set("conclusion", "compliant")
    tablet.sign(protocol, fresh_code(tablet))
    assert tablet.sync().ok and tablet.inspector is not None
    suffix = secrets.token_hex(3)
    root = signed_in(server, person(server, f"root-in-{suffix}", "administrator"))
    ana = signed_in(server, person(server, f"ana-in-{suffix}", "supervisor"))
    yield Desk(root, ana, protocol, tablet.inspector.id, assignment, tablet.device_id,
               tablet.store.get("kid"))
    root.close()
    ana.close()
    for opened_tablet in opened:
        opened_tablet.close()
    admin.close()


def _post(client: httpx.Client, form_page: str, path: str,
          fields: dict[str, str]) -> httpx.Response:
    """A form sent as a browser sends it: from its page, with that page's CSRF token."""
    page = client.get(form_page)
    assert page.status_code == 200, page.text[:2000]
    return client.post(path, data={**fields, "_csrf_token": csrf_token(page)})


Send = Callable[[Desk], httpx.Response]
LONG_NAME = "N" * 201

FORMS: dict[str, tuple[Send, str]] = {
    "an inspector's name past its column": (lambda d: _post(
        d.root, "/console/admin/inspectors", "/console/admin/inspectors?lang=en",
        {"id": "insp-long", "full_name": LONG_NAME}), "“Full name” is too long: 200"),
    "a NUL in a new inspector's name": (lambda d: _post(
        d.root, "/console/admin/inspectors", "/console/admin/inspectors?lang=en",
        {"id": "insp-nul", "full_name": f"Nodira{NUL}"}), "“Full name” is not in a form"),
    "a control character in a new inspector's id": (lambda d: _post(
        d.root, "/console/admin/inspectors", "/console/admin/inspectors?lang=en",
        {"id": "insp\u0001x", "full_name": "Nodira"}), "“Id” is not in a form"),
    "an attestation past the calendar, with the new inspector": (lambda d: _post(
        d.root, "/console/admin/inspectors", "/console/admin/inspectors?lang=en",
        {"id": "insp-feb30", "full_name": "Nodira", "attested_until": "2026-02-30"}),
        "“Attested until” does not check"),
    "an inspector's region past its column": (lambda d: _post(
        d.root, f"/console/admin/inspectors/{d.inspector}",
        f"/console/admin/inspectors/{d.inspector}?lang=en",
        {"full_name": "Nodira", "region": "r" * 101}), "“Region” is too long: 100"),
    "an assignment's first day past the calendar": (lambda d: _post(
        d.root, "/console/admin/assignments", "/console/admin/assignments?lang=en",
        {"id": "asg-feb30", "title": "Bozor", "inspectors": d.inspector,
         "starts_on": "2026-02-30"}), "“First day” does not check"),
    "a NUL in an assignment's title": (lambda d: _post(
        d.root, f"/console/admin/assignments/{d.assignment}",
        f"/console/admin/assignments/{d.assignment}?lang=en",
        {"title": f"Bozor{NUL}", "starts_on": "", "ends_on": "", "site_id": ""}),
        "“Title” is not in a form"),
    "a NUL in an account's name": (lambda d: _post(
        d.root, "/console/admin/accounts", "/console/admin/accounts?lang=en",
        {"id": "acc-nul", "full_name": f"Dilnoza{NUL}", "role": "supervisor"}),
        "“Full name” holds a character that cannot be kept"),
    "a region with a control character, for a supervisor's account": (lambda d: _post(
        d.root, "/console/admin/accounts", "/console/admin/accounts?lang=en",
        {"id": "acc-tab", "full_name": "Dilnoza", "role": "supervisor",
         "regions": "Toshkent\tshahri"}), "A region is a name of up to 100 characters"),
    "a key revoked from before 1970": (lambda d: _post(
        d.root, f"/console/admin/devices/{d.device}",
        f"/console/admin/keys/{d.kid}/revoke?lang=en",
        {"after": "0001-01-01T00:00", "device": d.device}), "A date is not a valid date"),
    "a NUL in the reason a protocol is annulled": (lambda d: _post(
        d.ana, f"/console/protocols/{d.protocol}", f"/console/protocols/{d.protocol}/annul"
        "?lang=en", {"reason": f"Xato{NUL}"}), "“Reason” holds a character"),
    "a reason past its limit": (lambda d: _post(
        d.ana, f"/console/protocols/{d.protocol}", f"/console/protocols/{d.protocol}/annul"
        "?lang=en", {"reason": "x" * 2001}), "“Reason” is too long: 2000"),
}


def _refused(database: Database, send: Callable[[], httpx.Response],
             words: str) -> httpx.Response:
    """A console request answered by a page that says ``words``, and nothing changed."""
    before = snapshot(database)
    page = send()
    assert page.status_code == 400, (page.status_code, page.text[:3000])
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text, page.text[:6000]
    assert snapshot(database) == before
    return page


@pytest.mark.parametrize("case", FORMS)
def test_a_form_given_what_it_cannot_keep_says_so_and_changes_nothing(
        database: Database, desk: Desk, case: str) -> None:
    send, words = FORMS[case]
    _refused(database, lambda: send(desk), words)


ADDRESSES: dict[str, tuple[Send, str]] = {
    "a NUL in a protocol's address": (lambda d: d.ana.get("/console/protocols/%00?lang=en"),
                                      "A value in the address is not valid"),
    "a NUL in an inspector's address": (lambda d: d.root.get(
        "/console/admin/inspectors/a%00b?lang=en"), "A value in the address is not valid"),
    "a NUL in the entity searched": (lambda d: d.ana.get(
        "/console/registry", params={"entity": f"Oʻzbek{NUL}", "lang": "en"}),
        "holds a character that cannot be kept"),
    "a search past its limit": (lambda d: d.ana.get(
        "/console/registry", params={"number": "T" * 101, "lang": "en"}),
        "“Protocol number” is too long: 100"),
    "a day past the calendar searched": (lambda d: d.ana.get(
        "/console/registry", params={"signed_to": "10000-01-01", "lang": "en"}),
        "A date is not a valid date"),
    "a day past the calendar exported": (lambda d: d.ana.get(
        "/console/registry/export", params={"signed_from": "2026-02-30", "lang": "en"}),
        "A date is not a valid date"),
    "a NUL in the audit log's actor": (lambda d: d.ana.get(
        "/console/audit", params={"actor": f"admin{NUL}", "lang": "en"}),
        "A value in the address is not valid"),
    "a NUL in a reference search": (lambda d: d.root.get(
        "/console/admin/reference", params={"q": f"un{NUL}", "lang": "en"}),
        "A value in the address is not valid"),
}


@pytest.mark.parametrize("case", ADDRESSES)
def test_an_address_given_what_it_cannot_name_says_so(
        database: Database, desk: Desk, case: str) -> None:
    send, words = ADDRESSES[case]
    _refused(database, lambda: send(desk), words)


def test_the_last_day_of_the_calendar_is_searched_like_any_other(desk: Desk) -> None:
    """``signed_to=9999-12-31`` finds what no upper bound finds (the day after it was once
    computed, past the calendar's end)."""
    unbounded = desk.ana.get("/console/registry", params={"number": "", "lang": "en"})
    last_day = desk.ana.get("/console/registry", params={"signed_to": "9999-12-31",
                                                         "lang": "en"})
    assert unbounded.status_code == last_day.status_code == 200
    assert desk.protocol in unbounded.text and desk.protocol in last_day.text


def test_a_sign_in_with_a_nul_in_its_name_counts_no_failure(
        server: LocalServer, database: Database) -> None:
    """Not a wrong password: a name no account can have, refused before anything is looked
    up or counted."""
    client = httpx.Client(base_url=server.url, timeout=30)
    try:
        _refused(database, lambda: _post(
            client, "/console/sign-in", "/console/sign-in?lang=en",
            {"name": f"ana{NUL}", "password": "tarozi-toshlari-2026"}),
            "holds a character that cannot be kept")
    finally:
        client.close()
