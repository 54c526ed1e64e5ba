"""The public face against a real registry: the verification page tells a seal's story in human
words, the check by number answers as the bot does, and the printed protocol the registry serves
is the very file the tablet made offline."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from client_lib import Tablet
from field_sync.i18n import LANGUAGES
from field_sync.seal import PREFIX
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from field_sync_cli.main import main
from schemas import Assignment
from schemas.signing import LocationFix
from tests.browser import DESKTOP, PHONE, Browser
from tests.live import TEMPLATE, fresh_code, team

pytestmark = pytest.mark.e2e

SITE = {"lat": "41.285117", "lon": "69.203462"}


@dataclass(frozen=True)
class Story:
    """Protocols of one assignment: corrected, its correction, annulled, and a draft."""

    tin: str
    numbers: dict[str, str]
    ids: dict[str, str]
    seals: dict[str, str]
    tablet: Tablet
    other: Tablet
    supervisor: str
    folder: Path

    def tail(self, name: str) -> str:
        seal = self.seals[name]
        return seal[seal.rfind(PREFIX):]


def _fill(tablet: Tablet, assignment: str, number: str, tin: str, supersedes: str = "") -> str:
    assert tablet.inspector is not None
    protocol = tablet.create_protocol(TEMPLATE, assignment, {
        "number": number, "started_at": "2026-11-26T09:30:00+05:00", "entity_tin": tin,
        "entity_name": "“Gʻuzor don mahsulotlari” MChJ", "site_address": "Chilonzor 7",
        "lead_inspector": tablet.inspector.id}, supersedes=supersedes)
    with tablet.edit(protocol) as edit:
        edit.add_row("team", {"inspector_id": tablet.inspector.id, "role": "lead"})
        scale = edit.add_row("instruments", {"type": "scale", "serial": "SN-448201"})
        edit.add_row("measurements", {"instrument": scale, "nominal": "20.000",
                                      "indication": "20.030", "mpe": "0.020", "unit": "kg"})
        edit.set("conclusion", "non_compliant")
    return protocol


def _sign(tablet: Tablet, protocol: str) -> str:
    fix = LocationFix(SITE["lat"], SITE["lon"], "5", time.time_ns() // 1_000_000)
    freeze = tablet.sign(protocol, fresh_code(tablet), fix)
    assert freeze.signed is not None
    return freeze.signed.seal


@pytest.fixture(scope="module")
def story(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    folder = tmp_path_factory.mktemp("public")
    admin = AdminClient(server.url, server.admin_token)
    opened: list[Tablet] = []
    try:
        assignment, (tablet, other) = team(admin, server, folder, 2, opened)
        assert tablet.inspector is not None and other.inspector is not None
        attested = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
        for inspector, name in ((tablet.inspector.id, "Dilnoza Rahimova"),
                                (other.inspector.id, "Oʻtkir Gʻaniyev")):
            admin.put_reference("inspector", inspector, {
                "id": inspector, "full_name": name, "position": "Bosh davlat inspektori",
                "attested_until": attested})
        tin = "3" + "".join(secrets.choice("0123456789") for _ in range(8))
        admin.put_reference("entity", tin, {"tin": tin, "name": "“Gʻuzor don” MChJ",
                                            "address": "Toshkent"})
        site = f"site-{assignment}"
        admin.put_reference("site", site, {
            "id": site, "entity_tin": tin, "name": "Chilonzor dehqon bozori", "radius_m": "200",
            "address": "Toshkent sh., Bunyodkor koʻchasi, 7", **SITE})
        admin.put_assignment(Assignment(assignment, "market scales",
                                        (tablet.inspector.id, other.inspector.id),
                                        site_id=site))
        assert tablet.sync().ok and other.sync().ok
        suffix = assignment[-8:].upper()
        numbers = {name: f"TR-{suffix}-{index}" for index, name in
                   enumerate(("corrected", "correction", "annulled", "draft"))}
        ids, seals = {}, {}
        ids["corrected"] = _fill(tablet, assignment, numbers["corrected"], tin)
        seals["corrected"] = _sign(tablet, ids["corrected"])
        assert tablet.sync().ok
        ids["correction"] = _fill(tablet, assignment, numbers["correction"], tin,
                                  supersedes=ids["corrected"])
        seals["correction"] = _sign(tablet, ids["correction"])
        ids["annulled"] = _fill(tablet, assignment, numbers["annulled"], tin)
        seals["annulled"] = _sign(tablet, ids["annulled"])
        ids["draft"] = _fill(tablet, assignment, numbers["draft"], tin)
        assert tablet.sync().ok and tablet.rejections() == []
        assert tablet.status(ids["correction"])[0] == "registered"
        appointed = httpx.post(f"{server.url}/v1/admin/supervisors/", json={
            "id": f"sup-{suffix.lower()}", "full_name": "Supervisor"}, timeout=30, headers={
            "Authorization": f"Bearer {server.admin_token}", "Accept": "application/json"})
        supervisor = appointed.json()["token"]
        annulled = httpx.post(f"{server.url}/v1/supervisor/protocols/{ids['annulled']}/annul",
                              json={"reason": "Oʻlchovlar boshqa tarozida olingan"},
                              headers={"Authorization": f"Bearer {supervisor}"}, timeout=30)
        assert annulled.status_code == 200, annulled.text
        assert other.sync().ok
        yield Story(tin, numbers, ids, seals, tablet, other, supervisor, folder)
    finally:
        for opened_tablet in opened:
            opened_tablet.close()
        admin.close()


def _page(server: LocalServer, path: str, **headers: str) -> str:
    response = httpx.get(f"{server.url}{path}", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def test_a_genuine_seal_in_human_words(story: Story, server: LocalServer) -> None:
    html = _page(server, f"/v/{story.tail('correction')}")  # no Accept-Language: uz-Latn
    assert '<html lang="uz-Latn">' in html and 'data-verdict="genuine"' in html
    for text in ("Haqiqiy hujjat", "Davlat metrologik nazorati bayonnomasi",
                 "Talablarga nomuvofiq", "Dilnoza Rahimova", "Bosh davlat inspektori",
                 "“Gʻuzor don” MChJ", f"STIR {story.tin}", "Chilonzor dehqon bozori",
                 "Toshkent sh., Bunyodkor koʻchasi, 7", story.numbers["correction"],
                 "Oʻzbekiston texnik jihatdan tartibga solish agentligi", server.url):
        assert text in html, text
    russian = _page(server, f"/V/{story.tail('correction')}?lang=ru", **{"Accept-Language": "en"})
    assert '<html lang="ru">' in russian and "Подлинный документ" in russian
    assert "ИНН " + story.tin in russian and "ноября" not in russian or "г." in russian


def test_a_superseded_seal_links_to_its_correction(story: Story, server: LocalServer) -> None:
    html = _page(server, f"/v/{story.tail('corrected')}?lang=en")
    assert 'data-verdict="superseded"' in html
    link = f'href="/v/{story.tail("correction")}?lang=en"'
    assert link in html
    followed = _page(server, f"/v/{story.tail('correction')}?lang=en")
    assert 'data-verdict="genuine"' in followed


def test_an_annulled_seal_says_when_and_why(story: Story, server: LocalServer) -> None:
    html = _page(server, f"/v/{story.tail('annulled')}?lang=uz-Cyrl")
    assert 'data-verdict="annulled"' in html and "Бекор қилинган" in html
    assert "Oʻlchovlar boshqa tarozida olingan" in html
    assert f"{dt.datetime.now(dt.timezone(dt.timedelta(hours=5))).year}" in html


def _check(server: LocalServer, **params: str) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/check", params=params, timeout=30)


def test_check_by_number_answers_as_the_bot_does(story: Story, server: LocalServer) -> None:
    corrected = _check(server, number=story.numbers["corrected"], stir=story.tin).json()
    assert corrected["found"] is True
    (first,) = corrected["protocols"]
    assert first["status"] == "superseded" and first["registry_number"]
    assert first["superseded_by"] and first["verification_url"].endswith(story.tail("corrected"))
    annulled = _check(server, number=story.numbers["annulled"], stir=story.tin).json()
    assert [p["status"] for p in annulled["protocols"]] == ["annulled"]
    for number, stir in ((story.numbers["draft"], story.tin),
                         (story.numbers["correction"], "123456789")):
        answer = _check(server, number=number, stir=stir).json()
        assert answer == {"number": number, "stir": stir, "found": False, "protocols": []}


@pytest.mark.parametrize("params", [{}, {"number": "TR-1"}, {"stir": "301245678"},
                                    {"number": "TR-1", "stir": "30124567"},
                                    {"number": "", "stir": "301245678"},
                                    {"number": "x" * 40, "stir": "301245678"}])
def test_check_needs_both_the_number_and_the_stir(server: LocalServer,
                                                  params: dict[str, str]) -> None:
    response = _check(server, **params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_check_form(story: Story, server: LocalServer) -> None:
    html = _page(server, "/check?lang=en")
    assert 'action="/check"' in html and 'name="stir"' in html
    found = _page(server, f"/check?lang=en&number={story.numbers['correction']}&stir={story.tin}")
    assert 'data-found="true"' in found and "Registered" in found
    refused = httpx.get(f"{server.url}/check", params={"number": "TR-1", "stir": "12"},
                        timeout=30)
    assert refused.status_code == 400 and "A TIN is 9 digits" not in refused.text  # uz-Latn
    assert "STIR 9 ta raqamdan iborat boʻlishi kerak" in refused.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_registry_prints_the_tablets_very_file(story: Story, server: LocalServer,
                                                   lang: str) -> None:
    served = httpx.get(f"{server.url}/v1/protocols/{story.ids['correction']}/document.pdf",
                       params={"lang": lang}, timeout=60,
                       headers={"Authorization": f"Bearer {server.admin_token}"})
    assert served.status_code == 200 and served.headers["content-type"] == "application/pdf"
    assert served.headers["content-language"] == lang
    assert served.content == story.tablet.render_pdf(story.ids["correction"], lang)
    assert served.content == story.other.render_pdf(story.ids["correction"], lang)


def test_who_may_fetch_the_printed_protocol(story: Story, server: LocalServer,
                                            tmp_path: Path, opened: list[Tablet],
                                            admin: AdminClient) -> None:
    url = f"{server.url}/v1/protocols/{story.ids['annulled']}/document.pdf"
    for token in (story.supervisor, story.tablet.store.get("token")):
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"},
                         timeout=60).status_code == 200
    assert httpx.get(url, timeout=30).status_code == 401
    _, (stranger,) = team(admin, server, tmp_path, 1, opened)
    outside = httpx.get(url, headers={"Authorization": f"Bearer {stranger.store.get('token')}"},
                        timeout=30)
    assert outside.status_code == 404


def test_the_tablet_prints_offline_right_after_signing(story: Story, tmp_path: Path) -> None:
    """The draft, signed now on the team's other tablet and never synced: printed with no
    registry number (the other inspector's codes: three signatures took this one's steps)."""
    protocol = story.ids["draft"]
    _sign(story.other, protocol)
    path = tmp_path / "signed.pdf"
    path.write_bytes(story.other.render_pdf(protocol, "ru"))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    assert story.numbers["draft"] in text and "Ещё не зарегистрирован в реестре" in text


def test_render_command(story: Story, server: LocalServer, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "protocol.pdf"
    arguments = ["render", story.ids["correction"], "--lang", "ru", "--out", str(out),
                 "--server", server.url, "--token", server.admin_token]
    result = subprocess.run([sys.executable, "-m", "field_sync_cli.main", *arguments],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == story.tablet.render_pdf(story.ids["correction"], "ru")
    for position, changed, code in ((3, "de", 2), (1, story.ids["correction"][:8], 1),
                                    (7, "http://127.0.0.1:9", 3)):
        again = list(arguments)
        again[position] = changed
        assert main(again) == code
        error = capsys.readouterr().err
        assert "Traceback" not in error
        if code != 2:  # a usage error is click's own few lines
            assert error.startswith("field-sync render: ") and error.count("\n") == 1


@pytest.mark.browser
def test_the_live_pages_in_a_browser(story: Story, server: LocalServer,
                                     browser: Browser) -> None:
    pages = {"genuine": f"/v/{story.tail('correction')}",
             "superseded": f"/v/{story.tail('corrected')}",
             "annulled": f"/v/{story.tail('annulled')}",
             "check": f"/check?number={story.numbers['corrected']}&stir={story.tin}"}
    for name, path in pages.items():
        for size in (PHONE, DESKTOP):
            browser.open(f"{server.url}{path}", size, language="ru-RU,ru;q=0.9")
            assert browser.driver.find_element("tag name", "html").get_attribute("lang") == "ru"
            browser.screenshot(f"live-{name}-ru-{size.name}")
            browser.audit()
