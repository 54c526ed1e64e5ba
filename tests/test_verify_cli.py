"""``field-sync verify`` on a seal a tablet made and the registry registered, and the page a phone
opens from the QR, in the reader's language."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest

from client_lib import Tablet
from field_sync.qr import qr_png, qr_version
from field_sync.seal import PREFIX
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from field_sync_cli.verify_command import read_qr_image
from tests.live import complete_protocol, team, totp_code

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Sealed:
    """A signed, registered protocol and the files a verifier works from."""

    seal: str
    registry_number: str
    number: str
    folder: Path
    png: Path
    trust_list: Path

    @property
    def tail(self) -> str:
        """The seal from its prefix on: what follows ``/V/`` in the URL."""
        return self.seal[self.seal.rfind(PREFIX):]


@pytest.fixture(scope="module")
def sealed(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sealed]:
    folder = tmp_path_factory.mktemp("verify-cli")
    admin = AdminClient(server.url, server.admin_token)
    opened: list[Tablet] = []
    try:
        assignment, (tablet,) = team(admin, server, folder, 1, opened)
        assert tablet.inspector is not None
        number = "TR-2026-0000042"
        protocol = complete_protocol(tablet, assignment, number)
        with tablet.edit(protocol) as edit:
            edit.set("conclusion", "compliant")
        freeze = tablet.sign(protocol, totp_code(tablet))
        assert tablet.sync().ok and tablet.rejections() == []
        receipt = tablet.receipt(protocol)
        assert receipt is not None and freeze.signed is not None
        seal = freeze.signed.seal
        png = folder / "seal.png"
        png.write_bytes(qr_png(seal))
        (folder / "seal.txt").write_text(seal + "\n")
        trust = httpx.get(f"{server.url}/v1/trust-list", headers={"Accept": "application/json"},
                          timeout=30)
        assert trust.status_code == 200
        trust_list = folder / "trust-list.json"
        trust_list.write_bytes(msgspec.json.format(trust.content, indent=2))
        yield Sealed(seal, receipt.registry_number, number, folder, png, trust_list)
    finally:
        for tablet in opened:
            tablet.close()
        admin.close()


def field_sync(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The installed ``field-sync`` command (``python -m field_sync_cli.main`` if the console
    script is not beside this interpreter)."""
    script = Path(sys.executable).with_name("field-sync")
    command = [str(script)] if script.exists() else [sys.executable, "-m",
                                                     "field_sync_cli.main"]
    return subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=60,
                          check=False)


def one_character_changed(seal: str) -> str:
    """The seal with one character in the middle of its signature changed."""
    position = len(seal) - 40
    return seal[:position] + ("B" if seal[position] != "B" else "C") + seal[position + 1:]


def test_registered_seal_fits_a_small_qr(sealed: Sealed) -> None:
    assert len(sealed.seal) <= 320
    assert qr_version(sealed.seal) <= 13
    decoded = read_qr_image(sealed.png)
    assert decoded == sealed.seal


# -- the command ------------------------------------------------------------------------------


def test_verify_png_offline_is_genuine(sealed: Sealed) -> None:
    result = field_sync("verify", str(sealed.png), "--trust-list", str(sealed.trust_list))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GENUINE" in result.stdout
    assert sealed.number in result.stdout
    assert "301245678" in result.stdout


def test_verify_text_and_text_file_offline(sealed: Sealed) -> None:
    for source in (sealed.seal, str(sealed.folder / "seal.txt"), sealed.tail):
        result = field_sync("verify", source, "--trust-list", str(sealed.trust_list))
        assert result.returncode == 0, (source, result.stdout + result.stderr)
        assert "GENUINE" in result.stdout


def test_one_character_changed_is_altered(sealed: Sealed, tmp_path: Path) -> None:
    changed = one_character_changed(sealed.seal)
    result = field_sync("verify", changed, "--trust-list", str(sealed.trust_list))
    assert result.returncode != 0
    assert "ALTERED" in result.stdout
    # and from a QR image of the changed text
    png = tmp_path / "changed.png"
    png.write_bytes(qr_png(changed))
    result = field_sync("verify", str(png), "--trust-list", str(sealed.trust_list))
    assert result.returncode != 0
    assert "ALTERED" in result.stdout


def test_verify_with_server_reports_the_registry_number(
    sealed: Sealed, server: LocalServer
) -> None:
    for extra in ([], ["--trust-list", str(sealed.trust_list)]):
        result = field_sync("verify", str(sealed.png), "--server", server.url, *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "GENUINE" in result.stdout
        assert re.search(rf"registry no\.\s+{re.escape(sealed.registry_number)}", result.stdout)


def test_a_tampered_trust_list_is_not_used(sealed: Sealed, tmp_path: Path) -> None:
    listed = msgspec.json.decode(sealed.trust_list.read_bytes())
    listed["keys"][0]["revoked_after_ms"] = 0
    listed["keys"][0]["inspector_id"] = "someone-else"
    tampered = tmp_path / "trust-list.json"
    tampered.write_bytes(msgspec.json.encode(listed))
    result = field_sync("verify", str(sealed.png), "--trust-list", str(tampered))
    assert result.returncode != 0
    assert "UNTRUSTED" in result.stdout


def test_a_trust_list_of_another_registry_key_is_not_used(sealed: Sealed, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from field_sync.keys import public_key_pem

    pinned = tmp_path / "registry.pem"
    pinned.write_text(public_key_pem(ec.generate_private_key(ec.SECP256R1())))
    result = field_sync("verify", str(sealed.png), "--trust-list", str(sealed.trust_list),
                        "--registry-key", str(pinned))
    assert result.returncode != 0
    assert "UNTRUSTED" in result.stdout


def test_verify_without_a_trust_source_is_an_error(sealed: Sealed) -> None:
    result = field_sync("verify", sealed.seal)
    assert result.returncode != 0
    assert "--trust-list" in result.stderr


# -- the page a phone opens -------------------------------------------------------------------

PAGES = {  # Accept-Language: (the page's lang, its "genuine" verdict, its "altered" verdict)
    "ru": ("ru", "Подлинный", "изменён"),
    "ru-RU,ru;q=0.9,en;q=0.8": ("ru", "Подлинный", "изменён"),
    "uz-Cyrl": ("uz-Cyrl", "Ҳақиқий", "ўзгартирилган"),
    "uz-Cyrl-UZ,uz;q=0.9": ("uz-Cyrl", "Ҳақиқий", "ўзгартирилган"),
    "uz-Latn": ("uz-Latn", "Haqiqiy", "oʻzgartirilgan"),
    "uz": ("uz-Latn", "Haqiqiy", "oʻzgartirilgan"),
    "en": ("en", "Genuine", "Altered document"),
    "de-DE,en;q=0.5": ("en", "Genuine", "Altered document"),
    "en;q=0.5,ru;q=0.9": ("ru", "Подлинный", "изменён"),
    "": ("uz-Latn", "Haqiqiy", "oʻzgartirilgan"),  # Uzbek in Latin script, the official one
}


def page(server: LocalServer, path: str, language: str) -> httpx.Response:
    headers = {"Accept-Language": language} if language else {}
    response = httpx.get(f"{server.url}{path}", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found, html[:200]
    return found.group(1)


@pytest.mark.parametrize("language", sorted(PAGES))
def test_page_speaks_the_readers_language(
    sealed: Sealed, server: LocalServer, language: str
) -> None:
    lang, genuine, _ = PAGES[language]
    for path in (f"/v/{sealed.tail}", f"/V/{sealed.tail}"):
        response = page(server, path, language)
        assert html_lang(response.text) == lang
        assert response.headers["content-language"] == lang
        assert 'data-verdict="genuine"' in response.text
        assert genuine in response.text
        assert sealed.number in response.text
        assert sealed.registry_number in response.text


@pytest.mark.parametrize("language", ["ru", "uz-Cyrl", "uz-Latn", "en"])
def test_page_of_an_altered_seal(sealed: Sealed, server: LocalServer, language: str) -> None:
    lang, genuine, altered = PAGES[language]
    changed = one_character_changed(sealed.tail)
    response = page(server, f"/V/{changed}", language)
    assert html_lang(response.text) == lang
    assert 'data-verdict="altered"' in response.text
    assert altered in response.text
    assert genuine not in response.text


def test_the_seal_text_itself_opens_the_page(sealed: Sealed) -> None:
    """What a phone camera does with the QR: open the upper-case URL as it stands."""
    assert sealed.seal.startswith("HTTP://127.0.0.1:")
    response = httpx.get(sealed.seal, headers={"Accept-Language": "uz-Cyrl"}, timeout=30)
    assert response.status_code == 200
    assert html_lang(response.text) == "uz-Cyrl"
    assert 'data-verdict="genuine"' in response.text
