"""The code blocks of the documentation, as tests run them: the README and the docs are executed,
so that what they show cannot drift from what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

__all__ = ["DOCS", "README_ADDRESS", "ROOT", "blocks", "nav_pages", "titled"]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_ADDRESS = "127.0.0.1:8470"
"""The address the README and the docs give the registry (``serve``'s default); tests run their
commands against a registry of their own, on a free port, in its place."""

_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_TITLE = re.compile(r'title="([^"]*)"')


def blocks(path: Path, language: str) -> list[str]:
    """The fenced blocks of ``language`` (``sh``, ``python``…) in a Markdown file, in order."""
    return [body for found, _, body in _FENCE.findall(path.read_text()) if found == language]


def titled(path: Path, title: str) -> str:
    """The one fenced block of a Markdown file whose title (```` ```sh title="…" ````) is
    ``title``."""
    (found,) = [body for _, info, body in _FENCE.findall(path.read_text())
                if (named := _TITLE.search(info)) and named.group(1) == title]
    return found


class _Loader(yaml.SafeLoader):
    """mkdocs.yml names Python objects (``!!python/name:``); reading the navigation needs none
    of them."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)


def nav_pages(section: str) -> list[Path]:
    """The pages of a section of ``mkdocs.yml``'s navigation (``Tutorial``…), in order."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)  # noqa: S506

    def walk(entries: list[object], inside: bool) -> list[Path]:
        pages: list[Path] = []
        for entry in entries:
            if isinstance(entry, str):
                pages += [DOCS / entry] if inside else []
                continue
            assert isinstance(entry, dict)
            for title, value in entry.items():
                if isinstance(value, list):
                    pages += walk(value, inside or title == section)
                elif inside:
                    pages.append(DOCS / str(value))
        return pages

    return walk(config["nav"], False)
