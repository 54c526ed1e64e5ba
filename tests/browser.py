"""Pages in a real browser: Debian's headless Chromium through selenium and chromedriver.

One browser a test session (``browser`` fixture); a test opens a page at phone or desktop size,
keeps a screenshot under ``build/screenshots/`` for people to look at, and audits it with
axe-core, failing on any serious or critical violation. axe-core comes from npm, pinned in
``tests/axe/package-lock.json`` and installed there by ``./dev test`` (or on first use); it is
never fetched from a CDN while the tests run.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["DESKTOP", "PHONE", "SCREENSHOTS", "Browser", "Size", "axe_source", "browser"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", "--force-color-profile=srgb",
         "--lang=en-US")
FAILING_IMPACTS = ("serious", "critical")


@dataclass(frozen=True)
class Size:
    """A viewport: width and height in CSS pixels, and whether it is a phone's."""

    name: str
    width: int
    height: int
    mobile: bool


PHONE = Size("phone", 412, 915, mobile=True)
DESKTOP = Size("desktop", 1366, 900, mobile=False)


@cache
def axe_source() -> str:
    """axe-core's ``axe.min.js``, installed from the pinned npm package when missing."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("the accessibility audit needs axe-core from npm: install nodejs and npm "
                        "(./dev test does), or run `npm ci` in tests/axe")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=True,
                       stdout=subprocess.DEVNULL)
    return AXE_JS.read_text(encoding="utf-8")


class Browser:
    """One headless Chromium, driven by selenium."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver
        # axe-core rides along with every document the browser opens: sent once, not once a page
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": axe_source()})

    def resize(self, size: Size) -> None:
        """Lay the open page out again in a viewport of ``size`` (no reload)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": size.width, "height": size.height, "deviceScaleFactor": 1,
            "mobile": size.mobile})

    def open(self, url: str, size: Size = DESKTOP, language: str = "en-US") -> None:
        """Load ``url`` in a viewport of ``size``, asking for ``language`` first."""
        self.resize(size)
        self.driver.execute_cdp_cmd("Network.setUserAgentOverride", {
            "userAgent": self.driver.execute_script("return navigator.userAgent"),
            "acceptLanguage": language})
        self.driver.get(url)

    def screenshot(self, name: str) -> Path:
        """The whole page as ``build/screenshots/<name>.png`` (past the fold too)."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        content = metrics["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": content["width"], "height": content["height"],
                     "scale": 1}})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def violations(self) -> list[dict[str, Any]]:
        """axe-core's violations on the page open now (WCAG 2.x A and AA, and best practice)."""
        if not self.driver.execute_script("return typeof window.axe !== 'undefined'"):
            self.driver.execute_script(axe_source())  # a page opened before the driver was ours
        found: list[dict[str, Any]] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(result => done(result.violations), error => done([{id: 'axe-error',"
            " impact: 'critical', help: String(error), nodes: []}]));")
        return found

    def audit(self) -> list[dict[str, Any]]:
        """Fail on any serious or critical violation; return the lesser ones."""
        found = self.violations()
        failing = [v for v in found if v.get("impact") in FAILING_IMPACTS]
        if failing:
            summary = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                        "nodes": [node.get("html", "")[:200] for node in v["nodes"][:3]]}
                       for v in failing]
            pytest.fail("accessibility violations:\n" + json.dumps(summary, indent=2,
                                                                     ensure_ascii=False))
        return found

    def text(self) -> str:
        """The page's visible text."""
        body: str = self.driver.find_element("tag name", "body").text
        return body


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """The test session's headless Chromium."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("browser tests need Debian's chromium and chromium-driver "
                    "(./dev test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="field-sync-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
