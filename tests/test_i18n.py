"""Words in four languages: every catalog complete, the reader's language chosen as promised,
dates written the local way in the site's zone."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import get_args

import pytest

from field_sync.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Catalog,
    MissingMessage,
    language_of,
    local_date,
    local_datetime,
    negotiate,
)
from field_sync.seal import RESULTS
from field_sync.verify import VerdictCode

pytestmark = pytest.mark.database_free

ROOT = Path(__file__).resolve().parent.parent
_SKIPPED = {".venv", "node_modules", "build", ".git"}


def catalogs() -> list[Path]:
    """Every message catalog in the project: a folder with a language's JSON file in it."""
    found = {path.parent for lang in LANGUAGES for path in ROOT.rglob(f"{lang}.json")
             if not _SKIPPED & set(path.relative_to(ROOT).parts)}
    return sorted(found)


def test_the_project_has_its_catalogs() -> None:
    names = {str(path.relative_to(ROOT)) for path in catalogs()}
    assert "server/web/messages" in names


@pytest.mark.parametrize("folder", catalogs(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_key_is_in_every_language(folder: Path) -> None:
    for lang in LANGUAGES:
        assert (folder / f"{lang}.json").is_file(), f"{folder} has no {lang}.json"
    catalog = Catalog.from_directory(folder)
    assert catalog.keys, f"{folder} is empty"
    assert catalog.gaps() == {}


def test_a_gap_is_found() -> None:
    catalog = Catalog({"uz-Latn": {"a": "A", "b": "B"}, "uz-Cyrl": {"a": "А", "b": " "},
                       "ru": {"a": "А"}, "en": {"a": "A", "b": "B", "c": "C"}})
    assert catalog.gaps() == {"uz-Latn": ["c"], "uz-Cyrl": ["b", "c"], "ru": ["b", "c"]}


def test_text_fills_its_arguments_and_refuses_an_unknown_key() -> None:
    catalog = Catalog({lang: {"signed": "{who} · {when}"} for lang in LANGUAGES})
    assert catalog.text("ru", "signed", who="A", when="B") == "A · B"
    with pytest.raises(MissingMessage):
        catalog.text("ru", "nothing")


_USED = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""")


def test_every_key_a_template_asks_for_exists() -> None:
    catalog = Catalog.from_directory(ROOT / "server" / "web" / "messages")
    templates = sorted((ROOT / "server" / "web" / "templates").rglob("*.html"))
    used = {key for path in templates for key in _USED.findall(path.read_text())}
    assert used, "no template asks for a word"
    assert sorted(key for key in used if not catalog.has(key)) == []


def test_every_verdict_has_its_words() -> None:
    """Keys the verification page builds from the verdict's code: every code the verifier can
    give, those the trust list's checks add, and the page's fallback."""
    catalog = Catalog.from_directory(ROOT / "server" / "web" / "messages")
    codes = {*get_args(VerdictCode), "untrusted", "wrong_registry", "unknown"}
    missing = [f"verdict.{code}.{part}" for code in sorted(codes) for part in ("title", "text")
               if not catalog.has(f"verdict.{code}.{part}")]
    assert missing == []
    assert all(catalog.has(f"result.{code}") for code in RESULTS)


@pytest.mark.parametrize(("requested", "accept", "chosen"), [
    (None, None, "uz-Latn"),
    (None, "", "uz-Latn"),
    (None, "de-DE,fr;q=0.8", "uz-Latn"),
    (None, "uz", "uz-Latn"),
    (None, "uz-UZ", "uz-Latn"),
    (None, "uz-Latn-UZ", "uz-Latn"),
    (None, "uz-Cyrl", "uz-Cyrl"),
    (None, "uz-Cyrl-UZ,ru;q=0.5", "uz-Cyrl"),
    (None, "ru-RU,ru;q=0.9,en-US;q=0.8", "ru"),
    (None, "en;q=0.5,ru;q=0.9", "ru"),
    (None, "de-DE,en;q=0.5", "en"),
    (None, "ru;q=0,en;q=0.1", "en"),
    ("uz-Cyrl", "en-GB", "uz-Cyrl"),
    ("ru", "uz", "ru"),
    ("uz", "ru", "uz-Latn"),
    ("klingon", "ru", "ru"),
    ("", "en", "en"),
])
def test_negotiation(requested: str | None, accept: str | None, chosen: str) -> None:
    assert negotiate(requested, accept) == chosen


def test_language_of_a_tag_we_do_not_speak() -> None:
    assert language_of("de") is None
    assert DEFAULT_LANGUAGE == "uz-Latn"


def test_dates_the_local_way() -> None:
    day = dt.date(2026, 11, 20)
    assert local_date(day, "uz-Latn") == "20-noyabr, 2026"
    assert local_date("2026-11-20", "uz-Cyrl") == "20 ноябр, 2026"
    assert local_date(day, "ru") == "20 ноября 2026\u202fг."  # CLDR: a narrow no-break space
    assert local_date(day, "en") == "November 20, 2026"
    assert local_date("not a day", "en") == "not a day"


def test_times_in_the_sites_zone() -> None:
    # 05:05 UTC is 10:05 in Tashkent, whatever the zone of the machine running this
    moment = dt.datetime(2026, 11, 20, 5, 5, tzinfo=dt.UTC)
    millis = int(moment.timestamp() * 1000)
    assert local_datetime(millis, "uz-Latn") == "20-noyabr, 2026, 10:05 (UTC+05:00)"
    assert local_datetime(moment, "ru") == "20 ноября 2026\u202fг., 10:05 (UTC+05:00)"
    assert local_datetime("2026-11-20T10:05:00+05:00", "en") == \
        "November 20, 2026, 10:05 (UTC+05:00)"
    assert local_datetime(millis, "en", "Europe/Moscow").startswith("November 20, 2026, 08:05")
