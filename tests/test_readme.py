"""The README, run as written: its quickstart and its Python example against a registry started
by its own ``./dev serve``.

The commands run in a folder of their own that holds the clone's ``dev`` and ``.venv``, with
``HOME`` there too (so ``~/.local/share/field-sync`` is the test's), ``FIELD_SYNC_DB`` naming the
test's database when it is PostgreSQL, and the registry on a free port in place of 8470.
``./dev test`` is this suite, and is not run again.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.doc_blocks import ROOT, blocks
from tests.readers import Reader, reader_registry

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"


@dataclass(frozen=True)
class Quickstart:
    """The README's blocks, and a registry and a folder to run them in."""

    registry: Reader
    shell: list[str]
    python: list[str]


@pytest.fixture(scope="module")
def readme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quickstart]:
    shell = blocks(README, "sh")
    commands = [block.strip() for block in shell]
    assert "./dev serve" in commands and "./dev test" in commands, "the two commands are gone"
    with reader_registry(tmp_path_factory.mktemp("readme")) as registry:
        yield Quickstart(registry, [block for block in shell
                                    if block.strip() not in ("./dev serve", "./dev test")],
                         blocks(README, "python"))


def test_the_quickstart_runs_and_both_verdicts_are_genuine(readme: Quickstart) -> None:
    """The demo against the running registry, then its seal verified offline and online."""
    (quickstart,) = readme.shell
    done = readme.registry.run(["bash", "-euo", "pipefail", "-c", quickstart])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo passed" in done.stdout
    assert done.stdout.count("verdict: GENUINE") == 2, done.stdout
    assert (readme.registry.folder / "demo-out" / "seal.png").exists()


def test_the_python_example_enrolls_signs_and_is_registered(readme: Quickstart) -> None:
    """The example as printed: enrolled, filled, signed with the authenticator's code, synced,
    and registered with a registry number."""
    (example,) = readme.python
    done = readme.registry.run([sys.executable, "-c", example])
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "'error': '0.030'" in lines[0] and "'pass': False" in lines[0]
    assert re.fullmatch(rf"HTTP://{re.escape(readme.registry.address)}/V/FS1[A-Z2-7]+", lines[1])
    assert re.fullmatch(r"\d{4}-\d{8}", lines[2]), lines


def test_every_link_of_the_readme_is_a_file_of_the_repository() -> None:
    """The README's links into the docs name files that exist."""
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []

