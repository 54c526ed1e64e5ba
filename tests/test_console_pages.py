"""The console's pages over HTTP, against a real registry: every page renders for the roles it
admits, forms need their CSRF token, sessions are the registry's and change id at sign-in, and a
supervisor limited to a region reaches nothing of another region by URL, search or export."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from html import escape
from http.cookies import SimpleCookie

import httpx
import pytest

from client_lib import Tablet
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from server.console.pages import message
from tests.console_data import (
    Region,
    quarantine,
    quarantine_without_photo,
    regional_team,
    sign_at_site,
    sign_with_photo,
)
from tests.console_people import Person, csrf_token, person, signed_in

pytestmark = pytest.mark.e2e


class Setting:
    """Two regions with protocols (some with photos), and people signed in."""

    def __init__(self, north: Region, south: Region, quarantined: str,
                 people: dict[str, Person], clients: dict[str, httpx.Client],
                 photos: dict[str, tuple[str, str]], photographer: Region) -> None:
        self.north, self.south, self.quarantined = north, south, quarantined
        self.people, self.clients = people, clients
        self.photos, self.photographer = photos, photographer
        """Protocols with a photo, and its SHA-256: ``north`` and ``south`` registered,
        ``held`` (north, the photographer's) quarantined before its photo reached the
        registry."""


@pytest.fixture(scope="module")
def setting(server: LocalServer, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Setting]:
    opened: list[Tablet] = []
    admin = AdminClient(server.url, server.admin_token)
    folder = tmp_path_factory.mktemp("console-tablets")
    suffix = secrets.token_hex(3)
    north = regional_team(admin, server, folder, opened, f"Navoiy {suffix}")
    south = regional_team(admin, server, folder, opened, f"Jizzax {suffix}")
    sign_at_site(north, f"TR-PN{suffix}")
    sign_at_site(south, f"TR-PS{suffix}")
    held = quarantine(admin, north, f"TR-PQ{suffix}")
    photographer = regional_team(admin, server, folder, opened, north.name)
    photos = {"north": sign_with_photo(photographer, f"TR-PF{suffix}"),
              "south": sign_with_photo(south, f"TR-PG{suffix}"),
              "held": quarantine_without_photo(admin, photographer, f"TR-PH{suffix}", opened)}
    people = {"root": person(server, f"root-{suffix}", "administrator"),
              "ana": person(server, f"ana-{suffix}", "supervisor", (north.name,)),
              "all": person(server, f"all-{suffix}", "supervisor")}
    clients = {key: signed_in(server, who) for key, who in people.items()}
    yield Setting(north, south, held, people, clients, photos, photographer)
    for client in clients.values():
        client.close()
    for tablet in opened:
        tablet.close()
    admin.close()


def _ok(client: httpx.Client, path: str) -> httpx.Response:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code, page.text[:3000])
    assert "text/html" in page.headers["content-type"]
    return page


def test_every_page_renders_for_an_administrator(setting: Setting) -> None:
    client, north = setting.clients["root"], setting.north
    protocol = north.signed[0]
    inspector = north.tablet.inspector
    assert inspector is not None
    device = north.tablet.device_id
    for path in ("/console", "/console?days=30&lang=ru", "/console/registry",
                 f"/console/registry?region={north.name}&status=registered&lang=uz-Cyrl",
                 "/console/registry?entity=Oʻzbek&signed_from=2020-01-01&lang=en",
                 f"/console/protocols/{protocol}", f"/console/protocols/{protocol}?lang=ru",
                 f"/console/protocols/{setting.quarantined}", "/console/quarantine",
                 "/console/quarantine?rule=attestation_lapsed", "/console/audit",
                 f"/console/audit?subject={protocol}", "/console/audit?check=true",
                 "/console/admin/inspectors", f"/console/admin/inspectors/{inspector.id}",
                 "/console/admin/devices", f"/console/admin/devices/{device}",
                 "/console/admin/assignments", f"/console/admin/assignments/{north.assignment}",
                 "/console/admin/reference", "/console/admin/reference?kind=entity",
                 "/console/admin/reference?kind=instrument", "/console/admin/accounts",
                 f"/console/admin/accounts/{setting.people['ana'].name}"):
        _ok(client, path)
    found = _ok(client, f"/console/registry?region={north.name}").text
    assert f'<td title="{inspector.id}">{escape(inspector.full_name)}</td>' in found  # a name
    integrity = _ok(client, "/console/audit?check=true&lang=en").text
    assert "badge--ok" in integrity and "Newest checkpoint the registry signed" in integrity
    signed_in = _ok(client, "/console/audit?action=signed_in&lang=ru").text
    assert f">{message('ru', 'console.audit_action.signed_in')}</a>" in signed_in  # in words


def test_a_protocol_page_shows_the_protocol_whole(setting: Setting) -> None:
    page = _ok(setting.clients["all"], f"/console/protocols/{setting.north.signed[0]}?lang=en")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    for shown in ("State metrological supervision protocol", "Measurement results", "Fail",
                  "Inside the geofence", "One-time code", "Offline gap", setting.north.name,
                  "Registered", "<svg"):
        assert shown in text, shown
    assert 'name="_csrf_token"' in text and "Annul the protocol" in text


def test_a_supervisor_limited_to_a_region_reaches_nothing_of_another(setting: Setting) -> None:
    client, south = setting.clients["ana"], setting.south
    other = south.signed[0]
    assert client.get(f"/console/protocols/{other}").status_code == 404
    listed = _ok(client, "/console/registry").text
    assert other not in listed and setting.north.signed[0] in listed
    assert other not in _ok(client, f"/console/registry?region={south.name}").text
    exported = client.get("/console/registry/export?format=csv")
    assert exported.status_code == 200 and other not in exported.text
    assert setting.north.signed[0] in exported.text
    assert other not in client.get("/console/registry/export?format=jsonl").text
    assert client.get(f"/console/protocols/{other}/document.pdf").status_code == 404
    assert "audit-detail" not in _ok(client, f"/console/audit?subject={other}").text
    assert "audit-detail" in _ok(client, f"/console/audit?subject={setting.north.signed[0]}").text
    # Nor act on it: the refusal is the same as for a protocol that does not exist.
    page = client.get(f"/console/protocols/{setting.north.signed[0]}")
    refused = client.post(f"/console/protocols/{other}/annul",
                          data={"reason": "x", "_csrf_token": csrf_token(page)})
    assert refused.status_code == 404


def test_the_printed_protocol_opens_from_the_console(setting: Setting) -> None:
    printed = setting.clients["ana"].get(
        f"/console/protocols/{setting.north.signed[0]}/document.pdf?lang=ru")
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
    assert printed.headers["content-type"] == "application/pdf"


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(setting: Setting) -> None:
    client = setting.clients["all"]
    protocol = setting.north.signed[0]
    refused = client.post(f"/console/protocols/{protocol}/annul", data={"reason": "forged"})
    assert refused.status_code == 403
    forged = client.post(f"/console/protocols/{protocol}/annul",
                         data={"reason": "forged", "_csrf_token": "0" * 128})
    assert forged.status_code == 403
    assert "badge--ok" in _ok(client, f"/console/protocols/{protocol}").text  # still registered


def test_only_supervisors_act_and_only_administrators_administer(setting: Setting) -> None:
    root, ana = setting.clients["root"], setting.clients["ana"]
    page = root.get(f"/console/protocols/{setting.quarantined}")
    assert "Annul" not in page.text
    refused = root.post(f"/console/protocols/{setting.quarantined}/annul",
                        data={"reason": "x", "_csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    for path in ("/console/admin/inspectors", "/console/admin/accounts",
                 "/console/admin/devices", "/console/admin/reference"):
        assert ana.get(path).status_code == 403


def test_a_supervisor_clears_a_quarantined_protocol_with_a_reason(setting: Setting) -> None:
    client, protocol = setting.clients["ana"], setting.quarantined
    page = _ok(client, f"/console/protocols/{protocol}?lang=en")
    assert "Clear for registration" in page.text
    # The broken rule in the reader's words, the registry's detail after it.
    assert "<strong>Attestation lapsed</strong>" in page.text
    assert "rule 1 attestation_lapsed" not in page.text
    queue = _ok(client, "/console/quarantine?lang=ru").text
    assert f"<strong>{message('ru', 'console.rule.attestation_lapsed')}</strong>" in queue
    empty = client.post(f"/console/protocols/{protocol}/clear?lang=en",
                        data={"reason": "  ", "_csrf_token": csrf_token(page)})
    assert empty.status_code == 400 and "Write the reason" in empty.text
    cleared = client.post(f"/console/protocols/{protocol}/clear?lang=en", data={
        "reason": "Suspension entered in error", "_csrf_token": csrf_token(page)})
    assert cleared.status_code == 200 and "The protocol is cleared and registered" in cleared.text
    assert "Suspension entered in error" in cleared.text
    assert "Cleared by a supervisor" in cleared.text


def _files(protocol: str, sha256: str) -> tuple[str, str]:
    file = f"/console/protocols/{protocol}/files/{sha256}"
    return file, f"{file}/thumbnail"


def test_evidence_files_open_from_the_console_within_reach_only(setting: Setting,
                                                                server: LocalServer) -> None:
    """A supervisor limited to a region fetches the photos of its protocols, and of another
    region's gets what a protocol they cannot see gives: 404."""
    ana, anyone = setting.clients["ana"], setting.clients["all"]
    north_file, north_thumbnail = _files(*setting.photos["north"])
    full = ana.get(north_file)
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(full.content).hexdigest() == setting.photos["north"][1]
    small = ana.get(north_thumbnail)
    assert small.status_code == 200 and small.headers["content-type"] == "image/jpeg"
    assert small.content.startswith(b"\xff\xd8") and len(small.content) < len(full.content)
    for path in _files(*setting.photos["south"]):
        assert ana.get(path).status_code == 404
        assert anyone.get(path).status_code == 200
    assert httpx.get(server.url + north_file).status_code == 303  # to the sign-in page


def test_a_protocol_page_shows_its_photos(setting: Setting) -> None:
    """Each photo a thumbnail linking to the whole file, with when it was taken and whether
    it arrived; the field it fills names it by its number."""
    protocol, sha256 = setting.photos["north"]
    text = _ok(setting.clients["ana"], f"/console/protocols/{protocol}?lang=en").text
    file = f"/console/protocols/{protocol}/files/{sha256}"
    assert f'<a class="evidence__thumb" href="{file}?lang=en"><img src="{file}/thumbnail?lang=en"' \
        in text
    assert "Photo № 1: Photo of the verification label and seal: scale SN-1" in text
    assert "by the camera&#39;s clock" in text and "Received" in text
    assert "<td>№ 1</td>" in text  # the table's cell names the file by its number
    held, missing = setting.photos["held"]
    waiting = _ok(setting.clients["all"], f"/console/protocols/{held}?lang=en").text
    assert "Not received yet" in waiting and f"/files/{missing}/thumbnail" not in waiting


def test_clearing_a_protocol_whose_photo_has_not_arrived_awaits_it(setting: Setting) -> None:
    """Cleared from quarantine, a protocol whose files have not all arrived is not registered
    without them: it awaits them, is found and annullable as such, and is registered when the
    photo comes."""
    client, (protocol, sha256) = setting.clients["ana"], setting.photos["held"]
    page = _ok(client, f"/console/protocols/{protocol}?lang=en")
    cleared = client.post(f"/console/protocols/{protocol}/clear?lang=en", data={
        "reason": "Attestation renewed late", "_csrf_token": csrf_token(page)})
    assert cleared.status_code == 200, cleared.text
    text = cleared.text
    assert "it will be registered when its evidence files arrive" in text
    assert "Awaiting evidence" in text and "have not all reached the registry" in text
    assert "Annul the protocol" in text and "Clear for registration" not in text
    found = _ok(client, "/console/registry?status=awaiting_evidence&lang=en").text
    assert protocol in found
    assert client.get(_files(protocol, sha256)[0]).status_code == 404  # not arrived
    seal = re.search(r'href="(/v/[^"?]+)', text)
    assert seal is not None
    story = _ok(client, f"{seal.group(1)}?lang=en").text
    assert "It will be registered once its evidence files reach the registry" in story
    assert "Attestation renewed late" in story

    assert setting.photographer.tablet.sync().ok
    registered = _ok(client, f"/console/protocols/{protocol}?lang=en").text
    assert "Registered" in registered and "have not all reached" not in registered
    assert client.get(_files(protocol, sha256)[0]).status_code == 200
    story = _ok(client, f"{seal.group(1)}?lang=en").text
    assert "a supervisor cleared it for registration" in story and "Registered in" in story


def _session_cookie(response: httpx.Response) -> SimpleCookie:
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("field_sync_console="):
            cookies.load(header)
    return cookies


def test_sessions_change_id_at_sign_in_and_end_at_sign_out(server: LocalServer) -> None:
    who = person(server, f"sess-{secrets.token_hex(3)}", "supervisor")
    client = httpx.Client(base_url=server.url, timeout=30)
    planted = "a" * 64
    client.cookies.set("field_sync_console", planted)
    page = client.get("/console/sign-in")
    after_password = client.post("/console/sign-in", data={
        "name": who.name, "password": who.password, "_csrf_token": csrf_token(page)})
    issued = _session_cookie(after_password)["field_sync_console"]
    assert issued.value != planted
    assert issued["httponly"] and issued["samesite"].lower() == "lax" and issued["path"] == "/"
    assert not issued["secure"]  # the registry's address here is http; https sets Secure
    page = client.get("/console/sign-in/code")
    signed = client.post("/console/sign-in/code", data={
        "code": who.code(), "_csrf_token": csrf_token(page)})
    assert signed.status_code == 303
    session = _session_cookie(signed)["field_sync_console"].value
    assert session not in (planted, issued.value)  # a new id once signed in
    def opens(session_id: str) -> int:
        return httpx.get(f"{server.url}/console/registry",
                         cookies={"field_sync_console": session_id}).status_code

    assert (opens(planted), opens(issued.value), opens(session)) == (303, 303, 200)
    home = client.get("/console")
    assert home.status_code == 200
    out = client.post("/console/sign-out", data={"_csrf_token": csrf_token(home)})
    assert out.status_code == 303
    assert client.get("/console/registry").status_code == 303
    client.close()


def test_pages_that_are_public_set_no_console_cookie(server: LocalServer) -> None:
    for path in ("/health", "/v1/trust-list"):
        response = httpx.get(f"{server.url}{path}")
        assert not [header for header in response.headers.get_list("set-cookie")
                    if re.match("field_sync_(console|csrf)=", header)]


def test_a_wrong_code_is_refused_and_counted(server: LocalServer) -> None:
    who = person(server, f"code-{secrets.token_hex(3)}", "supervisor")
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=True)
    page = client.get("/console/sign-in?lang=en")
    page = client.post("/console/sign-in?lang=en", data={
        "name": who.name, "password": "wrong password!", "_csrf_token": csrf_token(page)})
    assert page.status_code == 401 and "locked for 15 minutes" in page.text
    page = client.post("/console/sign-in", data={
        "name": who.name, "password": who.password, "_csrf_token": csrf_token(page)})
    wrong = "000000" if who.code() != "000000" else "111111"
    refused = client.post("/console/sign-in/code", data={"code": wrong,
                                                         "_csrf_token": csrf_token(page)})
    assert refused.status_code == 401
    client.close()


def test_an_administrator_suspends_from_the_console_as_through_the_api(
        server: LocalServer, setting: Setting) -> None:
    """Suspending from the console revokes the keys of the inspector's tablets from that moment,
    audited under the administrator's account; reinstating lifts the suspension, the keys stay
    revoked."""
    client, tablet = setting.clients["root"], setting.south.tablet
    assert tablet.inspector is not None
    inspector, kid = tablet.inspector.id, tablet.store.get("kid")

    def revoked_after() -> int:
        listed = httpx.get(f"{server.url}/v1/trust-list", headers={"Accept": "application/json"})
        (key,) = [key for key in listed.json()["keys"] if key["kid"] == kid]
        return int(key.get("revoked_after_ms", 0))

    assert revoked_after() == 0
    for action in ("suspend", "reinstate"):
        page = _ok(client, f"/console/admin/inspectors/{inspector}")
        done = client.post(f"/console/admin/inspectors/{inspector}",
                           data={"action": action, "_csrf_token": csrf_token(page)})
        assert done.status_code == 200, done.text[:2000]
        if action == "suspend":
            suspended_after = revoked_after()
            assert suspended_after > 0
    assert revoked_after() == suspended_after
    audit = httpx.get(f"{server.url}/v1/supervisor/audit", params={
        "limit": 1000, "subject": inspector}, headers={
        "Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"}).json()
    acts = {entry["action"]: entry["actor"] for entry in audit}
    assert acts["inspector_suspended"].startswith("account:")
    assert acts["inspector_reinstated"] == acts["inspector_suspended"]
