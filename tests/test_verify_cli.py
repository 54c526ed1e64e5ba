"""``field-sync verify`` on a seal a tablet made and the registry registered, and the page a phone
opens from the QR, in the reader's language."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from client_lib import HttpTransport, Tablet
from field_sync.key_handover import signed_form
from field_sync.keys import public_key_pem
from field_sync.qr import qr_png, qr_version
from field_sync.registry_pin import RegistryPin
from field_sync.seal import PREFIX, Claim, key_id, make_seal
from field_sync.signing import sign_canonical
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from field_sync_cli.pinning import PIN_VARIABLE
from field_sync_cli.verify_command import read_qr_image, run_verify
from schemas.signing import TrustedKey, TrustList
from tests.live import PASSPHRASE, complete_protocol, team, totp_code

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
    registry_key: Path
    """The registry's public key, as ``GET /v1/registry-key`` gives it."""
    fingerprint: str

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
        published = httpx.get(f"{server.url}/v1/registry-key",
                              headers={"Accept": "application/json"}, timeout=30).json()
        registry_key = folder / "registry-key.pem"
        registry_key.write_text(published["public_key"])
        yield Sealed(seal, receipt.registry_number, number, folder, png, trust_list,
                     registry_key, published["fingerprint"])
    finally:
        for tablet in opened:
            tablet.close()
        admin.close()


def field_sync(*arguments: str, pin: str = "") -> subprocess.CompletedProcess[str]:
    """The installed ``field-sync`` command (``python -m field_sync_cli.main`` if the console
    script is not beside this interpreter), with ``pin`` in ``$FIELD_SYNC_REGISTRY_KEY_PIN``."""
    script = Path(sys.executable).with_name("field-sync")
    command = [str(script)] if script.exists() else [sys.executable, "-m",
                                                     "field_sync_cli.main"]
    env = {name: value for name, value in os.environ.items()
           if name != "FIELD_SYNC_REGISTRY_KEY_PIN"}
    return subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=60,
                          check=False, env={**env, "FIELD_SYNC_REGISTRY_KEY_PIN": pin} if pin
                          else env)


def offline(sealed: Sealed, source: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``verify SOURCE --trust-list FILE --registry-key PEM``."""
    return field_sync("verify", source, "--trust-list", str(sealed.trust_list),
                      "--registry-key", str(sealed.registry_key), *extra)


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
    result = offline(sealed, str(sealed.png))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GENUINE" in result.stdout
    assert sealed.number in result.stdout
    assert "301245678" in result.stdout


def test_verify_text_and_text_file_offline(sealed: Sealed) -> None:
    for source in (sealed.seal, str(sealed.folder / "seal.txt"), sealed.tail):
        result = offline(sealed, source)
        assert result.returncode == 0, (source, result.stdout + result.stderr)
        assert "GENUINE" in result.stdout


def test_one_character_changed_is_altered(sealed: Sealed, tmp_path: Path) -> None:
    changed = one_character_changed(sealed.seal)
    result = offline(sealed, changed)
    assert result.returncode == 1
    assert "ALTERED" in result.stdout
    # and from a QR image of the changed text
    png = tmp_path / "changed.png"
    png.write_bytes(qr_png(changed))
    result = offline(sealed, str(png))
    assert result.returncode == 1
    assert "ALTERED" in result.stdout
    # the claim is the forger's to write: none of it is printed
    assert sealed.number not in result.stdout and "301245678" not in result.stdout


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
    result = field_sync("verify", str(sealed.png), "--trust-list", str(tampered),
                        "--registry-key", str(sealed.registry_key))
    assert result.returncode == 1
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


# -- the agency's key, pinned; the registry's address, signed ---------------------------------


FORGED_NUMBER = "TR-FORGED-0000001"


@dataclass(frozen=True)
class Forgery:
    """What anyone can make: a registry key and a device key of their own, a trust list naming
    the agency's address signed by that registry key, and a seal of a protocol that never was."""

    seal: str
    trust_list: Path


@pytest.fixture(scope="module")
def forgery(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Forgery:
    registry, device = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    claim = Claim(protocol_id=str(uuid.uuid4()), number=FORGED_NUMBER, kind="MSP",
                  entity="999999999", result="compliant", signed_at=int(time.time()),
                  content_hash="ab" * 32)
    seal = make_seal(claim, lambda data: device.sign(data, ec.ECDSA(hashes.SHA256())),
                     key_id(device.public_key()), server.url)
    unsigned = TrustList(issued_at_ms=time.time_ns() // 1_000_000,
                         registry_key=public_key_pem(registry), public_url=server.url,
                         keys=[TrustedKey(kid=key_id(device.public_key()).hex(),
                                          public_key=public_key_pem(device),
                                          inspector_id="nobody", device_id="nothing",
                                          valid_from_ms=0)])
    listed = msgspec.structs.replace(unsigned,
                                     signature=sign_canonical(registry, signed_form(unsigned)))
    path = tmp_path_factory.mktemp("forgery") / "trust-list.json"
    path.write_bytes(msgspec.json.encode(listed))
    return Forgery(seal, path)


def test_the_registry_publishes_its_keys_fingerprint(sealed: Sealed, server: LocalServer) -> None:
    """The fingerprint is SHA-256 over the key's DER SubjectPublicKeyInfo: the bytes a PEM
    public key spells in base64, so anyone can check it from the PEM alone."""
    published = httpx.get(f"{server.url}/v1/registry-key", timeout=30)
    assert published.status_code == 200
    body = msgspec.msgpack.decode(published.content)
    der = base64.b64decode("".join(body["public_key"].strip().splitlines()[1:-1]))
    assert body["fingerprint"] == hashlib.sha256(der).hexdigest() == sealed.fingerprint
    assert body["public_url"] == server.url
    listed = msgspec.json.decode(sealed.trust_list.read_bytes())
    assert (listed["registry_key"], listed["public_url"]) == (body["public_key"], server.url)


def test_a_trust_list_of_anyones_registry_is_untrusted(sealed: Sealed,
                                                        forgery: Forgery) -> None:
    """The list verifies under the key it names; offline, only the pinned key counts. Without
    a pin there is no offline verdict at all."""
    unpinned = field_sync("verify", forgery.seal, "--trust-list", str(forgery.trust_list))
    assert unpinned.returncode == 2, unpinned.stdout + unpinned.stderr
    assert "--registry-key" in unpinned.stderr and "FIELD_SYNC_REGISTRY_KEY_PIN" in unpinned.stderr
    assert unpinned.stdout == ""
    for pinned in (field_sync("verify", forgery.seal, "--trust-list", str(forgery.trust_list),
                              "--registry-key", str(sealed.registry_key)),
                   field_sync("verify", forgery.seal, "--trust-list", str(forgery.trust_list),
                              pin=sealed.fingerprint)):
        assert pinned.returncode == 1, pinned.stdout + pinned.stderr
        assert "UNTRUSTED" in pinned.stdout
        assert FORGED_NUMBER not in pinned.stdout and "999999999" not in pinned.stdout


@pytest.fixture
def verify_here(capsys: pytest.CaptureFixture[str],
                monkeypatch: pytest.MonkeyPatch) -> Callable[..., Answer]:
    """``verify``'s logic in this process (the command line itself runs in the tests above),
    with ``pin`` in ``$FIELD_SYNC_REGISTRY_KEY_PIN``."""

    def run(source: str, trust_list: Path | None = None, server: str | None = None,
            registry_key: str | None = None, pin: str = "") -> Answer:
        monkeypatch.delenv(PIN_VARIABLE, raising=False)
        if pin:
            monkeypatch.setenv(PIN_VARIABLE, pin)
        try:
            status, error = run_verify(source, str(trust_list) if trust_list else None,
                                       server, registry_key), ""
        except click.ClickException as exc:  # what the command line ends on, in one line
            status, error = exc.exit_code, exc.format_message()
        return subprocess.CompletedProcess([], status, capsys.readouterr().out, error)

    return run


Answer = subprocess.CompletedProcess[str]


def test_the_pin_is_a_pem_file_or_a_fingerprint(sealed: Sealed,
                                                verify_here: Callable[..., Answer]) -> None:
    spelled = ":".join(sealed.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    for result in (verify_here(sealed.seal, sealed.trust_list, registry_key=spelled),
                   verify_here(sealed.seal, sealed.trust_list, pin=f"sha256:{sealed.fingerprint}"),
                   verify_here(sealed.seal, sealed.trust_list, pin=str(sealed.registry_key))):
        assert result.returncode == 0, result.stdout + result.stderr
        assert "GENUINE" in result.stdout and sealed.fingerprint in result.stdout
    missing = verify_here(sealed.seal, sealed.trust_list,
                          registry_key=str(sealed.folder / "no-such-key.pem"))
    assert missing.returncode == 3
    assert "no such file" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    not_a_key = verify_here(sealed.seal, sealed.trust_list, registry_key=str(sealed.trust_list))
    assert not_a_key.returncode == 3 and "holds no registry public key" in not_a_key.stderr
    not_text = verify_here(sealed.seal, sealed.trust_list, registry_key=str(sealed.png))
    assert not_text.returncode == 3 and "cannot read the registry key" in not_text.stderr


def test_online_without_a_pin_says_it_is_the_registrys_word(
    sealed: Sealed, server: LocalServer, verify_here: Callable[..., Answer]
) -> None:
    result = verify_here(sealed.seal, server=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GENUINE" in result.stdout and "registry's own word" in result.stdout
    pinned = verify_here(sealed.seal, server=server.url, pin=sealed.fingerprint)
    assert pinned.returncode == 0 and "own word" not in pinned.stdout


def test_a_seal_under_another_address_is_not_genuine(
    sealed: Sealed, server: LocalServer, verify_here: Callable[..., Answer]
) -> None:
    """The same signed claim, its QR pointing at another checker: not genuine, offline and
    online, and nothing of its claim is printed."""
    moved = "HTTPS://EVIL.EXAMPLE/V/" + sealed.tail
    for result in (offline(sealed, moved), verify_here(moved, server=server.url),
                   verify_here(moved, server=server.url, pin=sealed.fingerprint)):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "WRONG REGISTRY" in result.stdout
        assert sealed.number not in result.stdout and sealed.registry_number not in result.stdout
    # the same registry, written in lower case, is the same address
    same = verify_here(server.url.lower() + "/v/" + sealed.tail, sealed.trust_list,
                       pin=sealed.fingerprint)
    assert same.returncode == 0, same.stdout


def test_a_lower_cased_seal_is_the_seal(sealed: Sealed, server: LocalServer,
                                        verify_here: Callable[..., Answer]) -> None:
    """What a phone that lower-cases the scanned text passes on."""
    for text in (sealed.seal.lower(), sealed.tail.lower()):
        result = verify_here(text, sealed.trust_list, pin=sealed.fingerprint)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "GENUINE" in result.stdout
    online = verify_here(sealed.seal.lower(), server=server.url)
    assert online.returncode == 0 and sealed.registry_number in online.stdout


def json_verdict(server: LocalServer, tail: str, **params: str) -> dict[str, object]:
    response = httpx.get(f"{server.url}/v1/verify/{tail}", params=params,
                         headers={"Accept": "application/json"}, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_the_json_verdict_checks_the_address_and_keeps_unverified_claims_out(
    sealed: Sealed, server: LocalServer, forgery: Forgery
) -> None:
    genuine = json_verdict(server, sealed.tail, address=server.url.upper())
    assert genuine["verdict"] == "genuine" and "claim" in genuine
    assert json_verdict(server, sealed.tail.lower())["verdict"] == "genuine"
    moved = json_verdict(server, sealed.tail, address="HTTPS://EVIL.EXAMPLE")
    altered = json_verdict(server, one_character_changed(sealed.tail))
    unknown = json_verdict(server, forgery.seal[forgery.seal.rfind(PREFIX):])
    for answer, verdict in ((moved, "wrong_registry"), (altered, "altered"),
                            (unknown, "unknown_key")):
        assert answer["verdict"] == verdict, answer
        assert set(answer) == {"verdict", "reason"}, answer
        assert sealed.number not in str(answer) and FORGED_NUMBER not in str(answer)


class Impostor:
    """A link to the registry on which someone answers the trust list with their own."""

    def __init__(self, inner: HttpTransport, forged: TrustList) -> None:
        self.inner, self.forged = inner, forged

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def trust_list(self) -> TrustList:
        return self.forged


def test_the_tablet_trusts_the_registry_key_it_enrolled_with(
    admin: AdminClient, server: LocalServer, tmp_path: Path, sealed: Sealed, forgery: Forgery
) -> None:
    """The key comes with the enrollment answer, before any trust list: a list signed by
    another key is never taken, however it arrives, and the tablet's verdicts use the key."""
    inspector = f"insp-pin-{uuid.uuid4().hex[:8]}"
    admin.create_inspector(inspector, "Inspector Pin")
    forged = msgspec.json.decode(forgery.trust_list.read_bytes(), type=TrustList)
    link = HttpTransport(server.url)
    tablet = Tablet(tmp_path / "tablet.sqlite", PASSPHRASE, transport=Impostor(link, forged))
    try:
        tablet.enroll(admin.enrollment_code(inspector), server.url)
        assert RegistryPin.of_key(tablet.store.get("registry_key")).fingerprint == \
            sealed.fingerprint
        assert tablet.sync().ok
        for seal in (forgery.seal, sealed.seal):
            verdict = tablet.verify(seal)
            assert (verdict.verdict, verdict.claim) == ("untrusted", None)
    finally:
        tablet.close()
        link.close()
    tablet = Tablet(tmp_path / "tablet.sqlite", PASSPHRASE)  # the registry itself, this time
    try:
        assert tablet.sync().ok
        assert tablet.verify(sealed.seal).genuine
        assert tablet.verify(sealed.seal.lower()).genuine
        assert tablet.verify(forgery.seal).verdict == "unknown_key"
        moved = tablet.verify("HTTPS://EVIL.EXAMPLE/V/" + sealed.tail)
        assert (moved.verdict, moved.claim) == ("wrong_registry", None)
    finally:
        tablet.close()


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
