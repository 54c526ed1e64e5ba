"""Words in the reader's language: message catalogs, language negotiation, local dates.

A catalog is a folder of JSON files, one per language (``uz-Latn.json``, ``uz-Cyrl.json``,
``ru.json``, ``en.json``), each a flat object of message key to text. A text may name format
arguments (``"Signed on {date}"``). The printed protocol's catalog lives beside the PDF code in
this package (a tablet renders offline); the registry's web pages keep theirs with their
templates. A test fails when any catalog lacks a key, or has it empty, in any language.

The language is chosen as the registry's pages choose it: an explicit ``?lang=`` first, then the
reader's ``Accept-Language``, then Uzbek in Latin script, the official one. ``uz`` and ``uz-UZ``
mean Latin script; ``uz-Cyrl`` asks for Cyrillic.

Dates and times are written the local way by Babel (CLDR), in the site's time zone
(Asia/Tashkent unless a site says otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "SITE_ZONE",
    "Catalog",
    "MissingMessage",
    "language_of",
    "local_date",
    "local_datetime",
    "negotiate",
]

LANGUAGES: tuple[str, ...] = ("uz-Latn", "uz-Cyrl", "ru", "en")
"""The languages every catalog carries, in the order a switcher lists them."""
DEFAULT_LANGUAGE = "uz-Latn"
SITE_ZONE = "Asia/Tashkent"
"""The time zone times are written in when a site names none."""

_BABEL_LOCALES = {"uz-Latn": "uz_Latn", "uz-Cyrl": "uz_Cyrl", "ru": "ru", "en": "en"}


class MissingMessage(KeyError):
    """A message key the catalog does not have: a bug in the code or template asking for it."""


class Catalog:
    """The messages of one part of the project, in every language.

    Args:
        messages: language tag to (message key to text).
    """

    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self.messages = {lang: dict(messages.get(lang, {})) for lang in LANGUAGES}

    @classmethod
    def from_directory(cls, folder: Path | Any) -> Catalog:
        """The catalog whose ``<language>.json`` files are in ``folder`` (a path, or a
        ``importlib.resources`` traversable)."""
        messages = {}
        for lang in LANGUAGES:
            entry = folder / f"{lang}.json"
            messages[lang] = json.loads(entry.read_text(encoding="utf-8")) if entry.is_file() \
                else {}
        return cls(messages)

    @classmethod
    def from_package(cls, package: str, folder: str = "messages") -> Catalog:
        """The catalog shipped as package data in ``package``'s ``folder``."""
        return cls.from_directory(resources.files(package) / folder)

    @property
    def keys(self) -> set[str]:
        """Every key any language has."""
        return {key for texts in self.messages.values() for key in texts}

    def gaps(self) -> dict[str, list[str]]:
        """Per language, the keys it lacks or leaves empty (an empty result: complete)."""
        every = self.keys
        found = {lang: sorted(key for key in every if not str(texts.get(key, "")).strip())
                 for lang, texts in self.messages.items()}
        return {lang: keys for lang, keys in found.items() if keys}

    def text(self, lang: str, key: str, /, **arguments: Any) -> str:
        """The message ``key`` in ``lang`` (the default language for one not carried), with
        its format arguments filled in.

        Raises:
            MissingMessage: no such key.
        """
        texts = self.messages.get(lang) or self.messages[DEFAULT_LANGUAGE]
        try:
            template = texts[key]
        except KeyError:
            raise MissingMessage(key) from None
        return template.format_map(arguments) if arguments else template

    def has(self, key: str) -> bool:
        """Whether the catalog has ``key`` (in the default language)."""
        return key in self.messages[DEFAULT_LANGUAGE]


def language_of(tag: str) -> str | None:
    """One of ``LANGUAGES`` for a BCP 47 tag, or None when we do not speak it.

    ``uz``, ``uz-UZ`` and ``uz-Latn-UZ`` are Latin script; ``uz-Cyrl`` and ``uz-Cyrl-UZ``
    Cyrillic; ``ru-RU`` is ``ru``; ``en-GB`` is ``en``.
    """
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "uz":
        return "uz-Cyrl" if "cyrl" in parts[1:] else "uz-Latn"
    if parts[0] in ("ru", "en"):
        return parts[0]
    return None


def _ranked(accept_language: str) -> Iterable[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (q=0 left out)."""
    ranked = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return (tag for _, _, tag in sorted(ranked))


def negotiate(requested: str | None = None, accept_language: str | None = None) -> str:
    """The language to answer in: ``requested`` (a page's ``?lang=``) when we speak it, else
    the first of ``accept_language`` we speak, else ``DEFAULT_LANGUAGE``."""
    if requested:
        chosen = language_of(requested)
        if chosen:
            return chosen
    for tag in _ranked(accept_language or ""):
        chosen = language_of(tag)
        if chosen:
            return chosen
    return DEFAULT_LANGUAGE


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _babel(lang: str) -> str:
    return _BABEL_LOCALES.get(lang, _BABEL_LOCALES[DEFAULT_LANGUAGE])


def local_date(value: dt.date | str, lang: str) -> str:
    """A calendar day written the local way (``20-noyabr, 2026``, ``20 ноября 2026 г.``).

    ``value`` may be a ``YYYY-MM-DD`` string, as reference data and forms carry days; text that
    is not a day is returned as it is.
    """
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return str(value)
    return format_date(value, "long", locale=_babel(lang))


def local_datetime(value: dt.datetime | int | str, lang: str, zone: str = SITE_ZONE) -> str:
    """A moment as its day and 24-hour time in ``zone``, the local way, with the zone's offset
    (``20-noyabr, 2026, 10:05 (UTC+05:00)``).

    ``value`` is an aware datetime, milliseconds since the epoch, or ISO 8601 text with an
    offset (as a form's ``datetime`` field holds); other text is returned as it is.
    """
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=_zone(zone))
    elif isinstance(value, int):
        value = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    moment = value.astimezone(_zone(zone))
    locale = _babel(lang)
    offset = moment.strftime("%z")
    pattern = get_datetime_format("medium", locale=locale)
    joined = str(pattern).replace("{1}", format_date(moment, "long", locale=locale)).replace(
        "{0}", format_time(moment, "HH:mm", locale=locale))
    return f"{joined} (UTC{offset[:3]}:{offset[3:]})"
