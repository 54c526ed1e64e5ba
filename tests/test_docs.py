"""The documentation site builds with warnings as errors, and nothing in the repository refers to
files outside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doc_blocks import DOCS, ROOT

pytestmark = pytest.mark.database_free

_OUTSIDE = re.compile("|".join(("DESIGN" + r"(\.md| §| section)", r"\.\./" + "shared")))
"""A reference to a design file or a shared folder beside the repository (spelled in pieces,
so this file does not match itself)."""
_SOURCES = ("schemas", "field_sync", "server", "client_lib", "field_sync_cli", "tests", "bench",
            "docs")


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page in the navigation, every link and anchor, every
    included example file resolves; a warning fails the build."""
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    assert (tmp_path / "site" / "protocol" / "seals" / "index.html").exists()


def test_every_page_is_in_the_navigation() -> None:
    """A page left out of ``mkdocs.yml`` would be built but never found."""
    config = (ROOT / "mkdocs.yml").read_text()
    pages = [path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")]
    assert pages
    assert [page for page in pages if page not in config] == []


def test_nothing_refers_outside_the_repository() -> None:
    """No design document or shared folder beside the repository is named anywhere: the
    repository explains itself."""
    files = [ROOT / "README.md", ROOT / "dev", ROOT / "pyproject.toml", ROOT / "mkdocs.yml"]
    for folder in _SOURCES:
        files += [path for path in (ROOT / folder).rglob("*")
                  if path.is_file() and path.suffix in (".py", ".md", ".json", ".csv", ".toml")
                  and "node_modules" not in path.parts]
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in files
             for match in [_OUTSIDE.search(path.read_text(errors="replace"))] if match]
    assert found == []
