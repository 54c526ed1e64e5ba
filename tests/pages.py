"""Pages rendered from fixtures and served as static files, for the browser to look at without a
registry: every verdict the verification page can show, in every language."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from field_sync.seal import Claim
from field_sync.verify import Verdict
from schemas import builtin_templates
from schemas.signing import TrustedKey
from server.signing.checks import CheckAnswer, CheckedProtocol
from server.signing.seal_story import Person, SealStory, verification_path
from server.web import STATIC_DIR, base_context, environment

__all__ = ["CHECKS", "PUBLIC_URL", "STORIES", "check_html", "page_html", "serve_pages"]

PUBLIC_URL = "https://verify.tris.gov.uz"
_CLAIM = Claim(protocol_id="0f5c2a1e-8d4b-4c1a-9e3f-2b7d6c5a4e31", number="TR-2026-0000042",
               kind="MSP", entity="301245678", result="non_compliant", signed_at=1795672800,
               content_hash="ab" * 32)
_KEY = TrustedKey(kid="1a2b3c4d5e6f7a8b", public_key="", inspector_id="insp-0042",
                  device_id="tablet-7", valid_from_ms=1_700_000_000_000)
_TEMPLATE = next(t for t in builtin_templates() if t.code == "MSP")
_SUCCESSOR_SEAL = f"{PUBLIC_URL.upper()}/V/FS1CORRECTIONSEALTEXT"


def _verified(code: str, **facts: Any) -> SealStory:
    verdict = Verdict(code, "", _CLAIM, _KEY,  # type: ignore[arg-type]
                      registry_number="" if code == "not_registered" else "2026-00000123",
                      superseded_by="2026-00000311" if code == "superseded" else "")
    return SealStory(verdict, _TEMPLATE, Person("insp-0042", "Dilnoza Rahimova",
                                                "Bosh davlat inspektori"),
                     entity_name="“Toshkent un kombinati” AJ",
                     site_name="Chilonzor savdo majmuasi",
                     site_address="Toshkent sh., Chilonzor tumani, Bunyodkor koʻchasi, 7",
                     registered_at_ms=1_795_673_400_000, protocol_id=_CLAIM.protocol_id, **facts)


STORIES: dict[str, SealStory] = {
    "genuine": _verified("genuine"),
    "not_registered": _verified("not_registered"),
    "superseded": _verified("superseded", successor_number="2026-00000311",
                            successor_seal=_SUCCESSOR_SEAL),
    "annulled": _verified("annulled", annulled_at_ms=1_796_000_000_000,
                          annulment_reason="Oʻlchov natijalari boshqa tarozida olingan; "
                                           "<script>alert(1)</script> takroriy tekshiruv "
                                           "tayinlandi."),
    "revoked": _verified("revoked"),
    "altered": SealStory(Verdict("altered", "", _CLAIM, _KEY)),
    "unknown_key": SealStory(Verdict("unknown_key", "", _CLAIM)),
    "untrusted": SealStory(Verdict("untrusted", "", _CLAIM)),  # type: ignore[arg-type]
    "wrong_registry": SealStory(Verdict("wrong_registry", "", _CLAIM)),  # type: ignore[arg-type]
    "malformed": SealStory(Verdict("malformed", "")),
}
"""A seal's story for every verdict; those that did not verify carry a claim all the same, as
a forger's seal would, so that a page showing any of it is caught."""


def page_html(code: str, lang: str) -> str:
    """The verification page of ``STORIES[code]`` in ``lang``."""
    story = STORIES[code]
    path = f"/v/{code}"
    context = {**base_context(lang, path, [], PUBLIC_URL), "story": story,
               "successor_href": verification_path(story.successor_seal)}
    return environment().get_template("verify.html").render(context)


_CHECKED = [
    CheckedProtocol("superseded", "metrology_supervision@1", 1_795_672_800_000,
                    "2026-00000123", "2026-00000311", f"{PUBLIC_URL}/v/FS1OLD"),
    CheckedProtocol("registered", "metrology_supervision@1", 1_795_759_200_000,
                    "2026-00000311", "", f"{PUBLIC_URL}/v/FS1NEW")]
CHECKS: dict[str, dict[str, Any]] = {
    "form": {"number": "", "stir": "", "errors": {}, "answer": None},
    "found": {"number": "TR-2026-0000042", "stir": "301245678", "errors": {},
              "answer": CheckAnswer("TR-2026-0000042", "301245678", True, _CHECKED)},
    "not-found": {"number": "TR-2026-0000043", "stir": "301245678", "errors": {},
                  "answer": CheckAnswer("TR-2026-0000043", "301245678", False, [])},
    "errors": {"number": "", "stir": "12", "answer": None,
               "errors": {"number": "check.error.number", "stir": "check.error.stir"}},
}
"""The check-by-number page: empty, with an answer found and not, and with its errors."""


def check_html(name: str, lang: str) -> str:
    """The check page in state ``CHECKS[name]`` in ``lang``."""
    context = {**base_context(lang, "/check", [], PUBLIC_URL), **CHECKS[name]}
    return environment().get_template("check.html").render(context)


class _Quiet(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, "": "text/html; charset=utf-8"}

    def log_message(self, *_args: Any) -> None:
        pass


@contextmanager
def serve_pages(folder: Path, pages: dict[str, str]) -> Iterator[str]:
    """Serve ``pages`` (path to HTML) and the registry's static files from ``folder`` on a
    loopback port; yield the base URL."""
    shutil.copytree(STATIC_DIR, folder / "static", dirs_exist_ok=True)
    for path, html in pages.items():
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
