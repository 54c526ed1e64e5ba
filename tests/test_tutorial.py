"""The tutorial, run as written: the Python blocks of its pages, in the order of the
navigation, in one session against a registry started by the tutorial's own ``./dev serve``.

A chapter added to the tutorial's navigation in ``mkdocs.yml`` is run with the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.doc_blocks import blocks, nav_pages
from tests.readers import reader_registry

pytestmark = pytest.mark.e2e


def tutorial_script() -> str:
    """The tutorial's Python blocks, page after page, as one script."""
    pages = nav_pages("Tutorial")
    assert pages and pages[0].name == "index.md"
    return "\n".join(f"# --- {page.relative_to(page.parent.parent)}\n" + block
                     for page in pages for block in blocks(page, "python"))


def test_the_tutorial_runs_from_enrollment_to_correction(tmp_path: Path) -> None:
    """Every step the tutorial shows, against a real registry: enrollment with a biometric
    credential, signing with a one-time code and a fingerprint, a rejected code, a quarantine
    and its correction (the old seal's verdict, ``superseded``), the printed protocol (the
    tablet's bytes are the registry's), and an evidence photo that reaches the registry after
    its signature (the protocol awaits it, then its seal verifies ``genuine``)."""
    script = tutorial_script()
    with reader_registry(tmp_path) as registry:
        done = registry.run([sys.executable, "-c", script])
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.splitlines()
    assert "superseded True" in printed, done.stdout
    assert "application/pdf True" in printed, done.stdout
    assert "True awaiting_evidence" in printed, done.stdout
    assert printed[-1] == "genuine True", done.stdout
