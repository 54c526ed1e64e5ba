"""The console in a real browser (Debian's headless Chromium through selenium) against a real
registry process: a supervisor signs in with a password and a one-time code, searches, opens a
protocol, annuls it and sees the public page change, clears a quarantined one; an administrator
imports a reference file with a bad row and reads the report, issues an enrollment code whose
QR (read by zxing-cpp from the screen) enrolls a real tablet, and revokes it, after which its
sync is refused. Every page is kept as a screenshot at desktop and phone size under
``build/screenshots/console/`` and audited with axe-core."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as arrived
from selenium.webdriver.support.ui import WebDriverWait

from client_lib import Tablet
from field_sync.enrollment import parse_enrollment
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from tests.browser import DESKTOP, PHONE, SCREENSHOTS, Browser
from tests.console_data import Region, quarantine, regional_team, sign_at_site, sign_with_photo
from tests.console_people import Person, person
from tests.databases import execute
from tests.live import PASSPHRASE

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@dataclass
class Console:
    """The registry the browser works on, and who is signed in."""

    server: LocalServer
    browser: Browser
    region: Region
    quarantined: str
    people: dict[str, Person]
    photographed: tuple[str, str]
    """A protocol of the region with a photo, and the photo's SHA-256."""
    signed_in: str = ""
    shots: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"

    def wait(self) -> WebDriverWait:  # type: ignore[type-arg]
        return WebDriverWait(self.browser.driver, 20)

    def find(self, css: str) -> WebElement:
        return self.wait().until(arrived.presence_of_element_located((By.CSS_SELECTOR, css)))

    def submit(self, form_css: str, **fields: str) -> None:
        """Fill a form's fields by name and press its submit button; wait for the next page."""
        form = self.find(form_css)
        for name, value in fields.items():
            box = form.find_element(By.NAME, name)
            if box.get_attribute("type") != "file":
                box.clear()
            box.send_keys(value)
        driver = self.browser.driver
        # The page being left is marked; the next page has no mark. (Waiting for the old
        # element to go stale is flaky: chromedriver may answer "node does not belong to the
        # document" instead of a stale element while the new page loads.)
        driver.execute_script("window.fieldSyncLeaving = true")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return window.fieldSyncLeaving === undefined"
                " && document.readyState === 'complete'"))

    def sign_in(self, key: str) -> None:
        """Sign in as ``people[key]``: the password, then the one-time code."""
        if self.signed_in == key:
            return
        driver, who = self.browser.driver, self.people[key]
        driver.delete_all_cookies()
        self.browser.open(self.url("/console/sign-in?lang=en"))
        self.submit("form[action^='/console/sign-in']", name=who.name, password=who.password)
        assert "/console/sign-in/code" in driver.current_url
        self.submit("form[action^='/console/sign-in/code']", code=who.code())
        assert self.find("nav.console-nav").text.count(who.name.split("-")[0].title()) >= 1
        self.signed_in = key

    def page(self, name: str, path: str, *, lang: str = "uz-Latn") -> None:
        """Open ``path`` at desktop and phone size, keep both screenshots, audit both; leave
        the desktop page open."""
        for size in (PHONE, DESKTOP):
            self.browser.open(self.url(path + ("&" if "?" in path else "?") + f"lang={lang}"),
                              size)
            assert "server_error" not in self.browser.driver.page_source
            self.browser.screenshot(f"console/{name}-{size.name}")
            self.browser.audit()
        self.shots.append(name)


@pytest.fixture(scope="module")
def console(server: LocalServer, browser: Browser, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Console]:
    (SCREENSHOTS / "console").mkdir(parents=True, exist_ok=True)
    opened: list[Tablet] = []
    admin = AdminClient(server.url, server.admin_token)
    folder = tmp_path_factory.mktemp("browser-tablets")
    suffix = secrets.token_hex(3)
    region = regional_team(admin, server, folder, opened, f"Samarqand {suffix}")
    for index in range(2):  # three signatures of one inspector at most in 30 s (live.fresh_code)
        sign_at_site(region, f"TR-B{suffix}-{index}")
    held = quarantine(admin, region, f"TR-BQ{suffix}")
    photographer = regional_team(admin, server, folder, opened, region.name)
    photographed = sign_with_photo(photographer, f"TR-BF{suffix}")
    people = {"supervisor": person(server, f"dilnoza-{suffix}", "supervisor"),
              "administrator": person(server, f"botir-{suffix}", "administrator")}
    yield Console(server, browser, region, held, people, photographed)
    browser.driver.delete_all_cookies()
    for tablet in opened:
        tablet.close()
    admin.close()


def test_sign_in_with_a_password_and_a_one_time_code(console: Console) -> None:
    console.browser.driver.delete_all_cookies()
    console.page("sign-in", "/console/sign-in")
    console.sign_in("supervisor")
    console.page("dashboard", "/console")
    assert console.find("svg.chart")


def test_search_open_annul_and_the_public_page_changes(console: Console) -> None:
    console.sign_in("supervisor")
    driver, region = console.browser.driver, console.region
    console.page("registry", "/console/registry")
    console.browser.open(console.url("/console/registry?lang=en"))
    console.submit("form.search", entity=region.entity_tin)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.console-table tbody tr")
    assert len(rows) == len(region.signed)
    target = region.signed[0]
    console.page("protocol", f"/console/protocols/{target}")
    console.browser.open(console.url(f"/console/protocols/{target}?lang=en"))
    assert "Inside the geofence" in console.browser.text()
    seal_path = console.find("a[href^='/v/']").get_attribute("href")
    assert seal_path is not None
    # The seal's QR as the page draws it, small, is whole and reads back as the seal.
    seal = _read_qr(console.find("figure.qr--small svg"))
    assert seal.upper().endswith(seal_path.rsplit("/", 1)[1].split("?")[0].upper())
    console.submit("form.act-annul", reason="Bayonnoma notoʻgʻri obyektda tuzilgan")
    assert "The protocol is annulled." in console.browser.text()
    assert "notoʻgʻri obyektda" in console.find("ol.timeline").text
    console.browser.open(seal_path)
    assert console.find("#verdict").get_attribute("data-verdict") == "annulled"


def test_clear_a_quarantined_protocol(console: Console) -> None:
    console.sign_in("supervisor")
    console.page("quarantine", "/console/quarantine")
    console.browser.open(console.url("/console/quarantine?lang=en"))
    console.find(f"a[href^='/console/protocols/{console.quarantined}']").click()
    console.page("protocol-quarantined", f"/console/protocols/{console.quarantined}")
    console.browser.open(console.url(f"/console/protocols/{console.quarantined}?lang=en"))
    console.submit(f"form[action^='/console/protocols/{console.quarantined}/clear']",
                   reason="Inspektor xato bilan chetlatilgan edi")
    text = console.browser.text()
    assert "The protocol is cleared and registered." in text and "Registered" in text
    assert console.region.tablet.sync().ok
    assert console.region.tablet.status(console.quarantined)[0] == "registered"
    # The public page tells the story, and links a signed-in supervisor back to the console.
    public = console.find("a[href^='/v/']").get_attribute("href")
    assert public is not None
    console.browser.open(public)
    assert console.find("#verdict").get_attribute("data-verdict") == "genuine"
    assert "Inspektor xato bilan chetlatilgan edi" in console.browser.text()
    console.find(f"a[href='/console/protocols/{console.quarantined}']").click()
    assert console.find("h1.console-title")
    console.page("audit", "/console/audit")


def test_a_protocol_s_photos_open_from_its_page(console: Console) -> None:
    console.sign_in("supervisor")
    protocol, sha256 = console.photographed
    console.page("protocol-photos", f"/console/protocols/{protocol}")
    driver = console.browser.driver
    thumbnail = console.find(".evidence__thumb img")
    loaded = console.wait().until(lambda _: driver.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth", thumbnail))
    assert 0 < loaded <= 480
    link = console.find(".evidence__thumb").get_attribute("href")
    assert link is not None and f"/files/{sha256}" in link


def test_the_dashboard_fits_a_phone(console: Console) -> None:
    """Its lists of long names scroll inside their cards: the page is never wider than the
    phone (412 px); on a desktop, the day-by-status table is not cut."""
    console.sign_in("supervisor")
    now_ms = time.time_ns() // 1_000_000
    long_name = f"nazoratchi-samarqand-viloyat-boshqarmasi-{secrets.token_hex(4)}"
    locked = person(console.server, long_name, "supervisor")
    execute(console.server.db_url, "UPDATE account SET locked_until_ms = :until WHERE id = :id",
            until=now_ms + 3_600_000, id=locked.name)
    execute(console.server.db_url, "UPDATE device SET last_seen_ms = :at WHERE id = :id",
            at=now_ms - 30 * 86_400_000, id=console.region.tablet.device_id)
    console.page("dashboard-lists", "/console")
    console.browser.open(console.url("/console?lang=en"), PHONE)
    assert locked.name in console.browser.text()
    wide = console.browser.driver.execute_script(
        "return document.documentElement.scrollWidth")
    assert wide <= PHONE.width, wide
    # At desktop size the day-by-status table shows every column, unscrolled.
    console.browser.open(console.url("/console?lang=uz-Latn"), DESKTOP)  # the longest words
    hidden = console.browser.driver.execute_script(
        "const t = document.querySelector('.chart-table'); return t.scrollWidth - t.clientWidth")
    assert hidden <= 0, hidden
    # Each rule's label is drawn whole inside its chart.
    assert console.browser.driver.execute_script(
        "return [...document.querySelectorAll('svg.chart text')]"
        ".every(t => t.getBBox().x >= 0)")


def test_import_a_reference_file_with_a_bad_row_and_read_the_report(
        console: Console, tmp_path: Path) -> None:
    console.sign_in("administrator")
    console.page("reference", "/console/admin/reference")
    sites = tmp_path / "sites.csv"
    suffix = secrets.token_hex(3)
    sites.write_text(
        "id,entity_tin,name,lat,lon,radius_m,region\n"
        f"s1-{suffix},{console.region.entity_tin},Chorsu bozori,41.3275,69.2340,200,Toshkent\n"
        f"s2-{suffix},12345,Oloy bozori,41.3110,69.2790,150,Toshkent\n"
        f"s3-{suffix},{console.region.entity_tin},Yunusobod bozori,41.3660,69.2870,120,Toshkent\n",
        encoding="utf-8")
    console.browser.open(console.url("/console/admin/reference?lang=en"))
    console.submit("form[enctype='multipart/form-data']", file=str(sites))
    report = console.find("#import-report").text
    assert "3" in report and "entity_tin" in report and "nine digits" in report
    console.browser.screenshot("console/import-report-desktop")
    console.browser.audit()
    console.submit("form[action^='/console/admin/reference/import/']")
    assert "Imported: 2 stored, 1 rejected." in console.browser.text()
    console.browser.open(console.url(f"/console/admin/reference?kind=site&q={suffix}&lang=en"))
    assert "Chorsu bozori" in console.browser.text() and "Oloy" not in console.browser.text()


def _read_qr(element: WebElement) -> str:
    image = Image.open(io.BytesIO(element.screenshot_as_png))
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code on the screen"
    return str(found[0].text)


def test_enroll_a_tablet_from_the_qr_then_revoke_it(console: Console, tmp_path: Path) -> None:
    console.sign_in("administrator")
    inspector = console.region.tablet.inspector
    assert inspector is not None
    console.page("inspectors", "/console/admin/inspectors")
    console.page("inspector", f"/console/admin/inspectors/{inspector.id}")
    console.browser.open(console.url(f"/console/admin/inspectors/{inspector.id}?lang=en"))
    console.submit("form[action*='/enrollment-code']")
    console.browser.screenshot("console/enrollment-desktop")
    console.browser.audit()
    registry, code = parse_enrollment(_read_qr(console.find("#enrollment-qr svg")))
    assert code == console.find("#enrollment-code").text
    tablet = Tablet(tmp_path / "new-tablet.sqlite", PASSPHRASE)
    try:
        assert tablet.enroll(code, registry, device_name="Galaxy Tab A9").id == inspector.id
        assert tablet.sync().ok
        console.page("devices", "/console/admin/devices")
        console.page("device", f"/console/admin/devices/{tablet.device_id}")
        console.browser.open(console.url(f"/console/admin/devices/{tablet.device_id}?lang=en"))
        assert "Galaxy Tab A9" in console.browser.text()
        assert "its signing keys are revoked from now on" in console.browser.text()
        console.submit(f"form[action^='/console/admin/devices/{tablet.device_id}/revoke']")
        assert "The tablet is revoked." in console.browser.text()
        refused = tablet.sync()
        assert not refused.ok and "device_revoked" in refused.error
    finally:
        tablet.close()


def test_the_administrators_other_pages(console: Console) -> None:
    console.sign_in("administrator")
    console.page("assignments", "/console/admin/assignments")
    console.page("assignment", f"/console/admin/assignments/{console.region.assignment}")
    console.page("accounts", "/console/admin/accounts")
    console.page("account", f"/console/admin/accounts/{console.people['supervisor'].name}")
    console.browser.open(console.url("/console/admin/accounts?lang=en"))
    console.submit("form[action^='/console/admin/accounts']", id=f"yangi-{secrets.token_hex(2)}",
                   full_name="Yangi Nazoratchi", regions=console.region.name)
    link = console.find("#invitation-link").text
    assert "/console/invitation/" in link
    console.browser.screenshot("console/invitation-link-desktop")
    console.browser.driver.delete_all_cookies()
    console.signed_in = ""
    console.browser.open(link)
    console.browser.screenshot("console/invitation-desktop")
    console.browser.audit()
