"""The verification page for every verdict in every language: honest at a glance (the verdict,
then details only for a verified signature), escaped, and, in a real headless Chromium at phone
and desktop size, without a serious or critical accessibility violation. Screenshots are kept
in ``build/screenshots/verify-<verdict>-<language>-<size>.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from field_sync.i18n import LANGUAGES
from server.signing.seal_story import VERIFIED
from tests.browser import DESKTOP, PHONE, Browser
from tests.pages import CHECKS, PUBLIC_URL, STORIES, check_html, page_html, serve_pages

pytestmark = pytest.mark.database_free

NUMBER = "TR-2026-0000042"
CLAIMED = (NUMBER, "301245678", "Dilnoza Rahimova", "Toshkent un kombinati")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("code", sorted(STORIES))
def test_the_page_says_the_verdict_and_only_what_was_verified(code: str, lang: str) -> None:
    html = page_html(code, lang)
    assert f'<html lang="{lang}">' in html
    assert f'data-verdict="{code}"' in html
    assert PUBLIC_URL in html
    shown = [text for text in CLAIMED if text in html]
    if code in VERIFIED:
        assert shown == list(CLAIMED)
    else:
        assert shown == [], f"{code} shows what its writer wrote"
    assert "<script>" not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_genuine_page_in_human_words(lang: str) -> None:
    html = page_html("genuine", lang)
    words = {"uz-Latn": ("Haqiqiy hujjat", "Davlat metrologik nazorati bayonnomasi",
                         "Talablarga nomuvofiq", "noyabr, 2026", "STIR 301245678"),
             "uz-Cyrl": ("Ҳақиқий ҳужжат", "Давлат метрологик назорати баённомаси",
                         "Талабларга номувофиқ", "ноябр, 2026", "СТИР 301245678"),
             "ru": ("Подлинный документ", "Протокол государственного метрологического надзора",
                    "Не соответствует требованиям", "ноября 2026", "ИНН 301245678"),
             "en": ("Genuine document", "State metrological supervision protocol",
                    "Non-compliant", "November", "TIN 301245678")}[lang]
    for text in words:
        assert text in html, text
    assert "Bosh davlat inspektori" in html and "2026-00000123" in html
    assert "MSP" not in re.sub(r"<[^>]+>", " ", html)  # the kind in words, not its code


def test_the_story_of_a_superseded_and_an_annulled_seal() -> None:
    superseded = page_html("superseded", "ru")
    assert "исправленный протокол № 2026-00000311" in superseded
    assert 'href="/v/FS1CORRECTIONSEALTEXT?lang=ru"' in superseded
    annulled = page_html("annulled", "en")
    assert "annulled on" in annulled and "The reason the supervisor gave" in annulled
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in annulled


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    rendered = {f"/v/{code}-{lang}": page_html(code, lang)
                for code in STORIES for lang in LANGUAGES}
    rendered.update({f"/check/{name}-{lang}": check_html(name, lang)
                     for name in CHECKS for lang in LANGUAGES})
    with serve_pages(tmp_path_factory.mktemp("pages"), rendered) as url:
        yield url


def look(browser: Browser, url: str, name: str, audit_desktop: bool) -> None:
    """Open ``url`` on a phone, then on a desk: nothing scrolls sideways, screenshots of both,
    the accessibility audit on the phone (and the desk, when asked)."""
    browser.open(url, PHONE)
    for size in (PHONE, DESKTOP):
        browser.resize(size)
        overflow = browser.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {size.name} size"
        browser.screenshot(f"{name}-{size.name}")
        if size is PHONE or audit_desktop:
            browser.audit()


@pytest.mark.browser
@pytest.mark.parametrize("code", sorted(STORIES))
def test_every_verdict_looks_right_in_every_language(browser: Browser, pages: str,
                                                      code: str) -> None:
    for lang in LANGUAGES:
        look(browser, f"{pages}/v/{code}-{lang}", f"verify-{code}-{lang}", lang == "uz-Latn")
        banner = browser.driver.find_element("id", "verdict")
        assert banner.get_attribute("data-verdict") == code
        assert banner.location["y"] < PHONE.height / 2  # the verdict is seen first

@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_check_page_says_what_was_found(lang: str) -> None:
    found = check_html("found", lang)
    assert found.count('data-status="') == 2 and "2026-00000311" in found
    assert 'href="https://verify.tris.gov.uz/v/FS1NEW?lang=' in found
    errors = check_html("errors", lang)
    assert errors.count('aria-invalid="true"') == 2 and 'value="12"' in errors


@pytest.mark.browser
def test_the_check_page_looks_right(browser: Browser, pages: str) -> None:
    for name in CHECKS:
        for lang in LANGUAGES:
            look(browser, f"{pages}/check/{name}-{lang}", f"check-{name}-{lang}",
                 lang == "uz-Latn")
