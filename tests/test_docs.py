"""The documentation site builds with warnings as errors, and nothing in the repository refers to
files outside it."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server.api import problems
from tests.doc_blocks import DOCS, ROOT

pytestmark = pytest.mark.database_free

_OUTSIDE = re.compile("|".join(("DESIGN" + r"(\.md| §| section)", r"\.\./" + "shared")))
"""A reference to a design file or a shared folder beside the repository (spelled in pieces,
so this file does not match itself)."""
_LOADED_FROM_ELSEWHERE = re.compile(r'<(?:script|img|iframe)[^>]* src="(?:https?:)?//[^"]*"'
                                    r'|<link[^>]* href="(?:https?:)?//[^"]*"')
"""What a page would load from another site as it is read (a link to one is only a link)."""
_SOURCES = ("schemas", "field_sync", "server", "client_lib", "field_sync_cli", "tests", "bench",
            "docs")


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page in the navigation, every link and anchor, every
    included example file and every diagram's drawing resolves; a warning fails the build. The
    site loads nothing from elsewhere: no script, font or style, and no diagram drawn in the
    reader's browser."""
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    assert (tmp_path / "site" / "protocol" / "seals" / "index.html").exists()
    loaded = [f"{page.relative_to(tmp_path)}: {found}"
              for page in (tmp_path / "site").rglob("*.html")
              for found in _LOADED_FROM_ELSEWHERE.findall(page.read_text())]
    assert loaded == []
    assert 'class="mermaid"' not in (tmp_path / "site" / "architecture" / "index.html").read_text()


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


def _problem_codes() -> dict[str, str]:
    """Every code the registry's source raises as a problem detail, with where: the first
    argument, when a literal, of each call of a ``ProblemError`` class or of a subclass
    defined in ``server/``."""
    trees = {path: ast.parse(path.read_text()) for path in (ROOT / "server").rglob("*.py")}
    classes = {name for name, value in vars(problems).items()
               if isinstance(value, type) and issubclass(value, problems.ProblemError)}
    classes |= {node.name for tree in trees.values() for node in ast.walk(tree)
                if isinstance(node, ast.ClassDef)
                and any(getattr(base, "id", "") in classes for base in node.bases)}
    codes = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") in classes
                    and node.args and isinstance(node.args[0], ast.Constant)):
                codes[str(node.args[0].value)] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return codes


def test_every_problem_code_is_in_the_problem_details_page() -> None:
    """A client acts on a problem's ``code``: each one the registry can answer, its own and the
    web framework's generic ones, is listed in ``docs/protocol/problems.md``."""
    page = (DOCS / "protocol" / "problems.md").read_text()
    listed = set(re.findall(r"`([a-z_]+)`", page))
    generic = [*problems._CODES.values(), "http_error", "server_error"]
    codes = {**_problem_codes(), **dict.fromkeys(generic, "server/api/problems.py")}
    assert len(codes) > 60
    assert {code: where for code, where in codes.items() if code not in listed} == {}
