"""The printed protocol, read back as a person and a phone would read it: pdftotext finds the
number, the STIR, every measurement and the conclusion in each language, with every Uzbek
letter right; the page rasterised at 150 dpi still has a QR that zxing-cpp decodes to the seal,
and the seal verifies; the same protocol and language give the same bytes, whenever made."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from field_sync.document import PrintedProtocol, render_pdf
from field_sync.i18n import LANGUAGES
from field_sync.keys import public_key_pem
from field_sync.verify import verify_seal
from schemas.signing import TrustedKey, TrustList
from tests.printed import MEASUREMENTS, PUBLIC_URL, filled_protocol

pytestmark = pytest.mark.database_free

CONCLUSION = {"uz-Latn": "Talablarga nomuvofiq", "uz-Cyrl": "Талабларга номувофиқ",
              "ru": "Не соответствует требованиям", "en": "Non-compliant"}
TITLE = {"uz-Latn": "Davlat metrologik nazorati bayonnomasi",
         "uz-Cyrl": "Давлат метрологик назорати баённомаси",
         "ru": "Протокол государственного метрологического надзора",
         "en": "State metrological supervision protocol"}


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def printed(key: ec.EllipticCurvePrivateKey) -> PrintedProtocol:
    return filled_protocol(key)


def pdftotext(pdf: bytes, folder: Path) -> str:
    path = folder / "protocol.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                            capture_output=True, check=True, timeout=60)
    return result.stdout.decode()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pdftotext_finds_what_the_protocol_says(printed: PrintedProtocol, lang: str,
                                                tmp_path: Path) -> None:
    text = pdftotext(render_pdf(printed, lang), tmp_path)
    assert "TR-2026-0000042" in text and "301245678" in text and "2026-00000123" in text
    assert TITLE[lang] in text
    assert CONCLUSION[lang] in text
    for _serial, nominal, indication, mpe in MEASUREMENTS:
        row = printed.protocol.collections["measurements"]
        error = next(r["error"] for r in row.values()
                     if (r["nominal"], r["indication"]) == (nominal, indication))
        assert f"{nominal}" in text and indication in text and mpe in text and error in text
    assert "Dilnoza Rahimova" in text and "Bosh davlat inspektori" in text
    assert "“Gʻuzor don mahsulotlari” MChJ" in text  # oʻ and gʻ with U+02BB, as typed
    assert "Taʼmirlash" in text  # the tutuq belgisi, U+02BC
    for letter in "ўқғҳЎ":
        assert letter in text, letter


def test_uzbek_cyrillic_words_are_whole(printed: PrintedProtocol, tmp_path: Path) -> None:
    text = pdftotext(render_pdf(printed, "uz-Cyrl"), tmp_path)
    assert "Ўлчов воситалари қайта текширилсин" in text.replace("\n", " ").replace("  ", " ")
    assert "Муҳр" in text and "Имзо" in text


def test_the_seal_scans_from_the_page_at_150_dpi(printed: PrintedProtocol,
                                                  key: ec.EllipticCurvePrivateKey,
                                                  tmp_path: Path) -> None:
    assert printed.signed is not None
    path = tmp_path / "protocol.pdf"
    path.write_bytes(render_pdf(printed, "uz-Latn"))
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")],
                   check=True, timeout=60)
    decoded = [barcode.text for page in sorted(tmp_path.glob("page-*.png"))
               for barcode in zxingcpp.read_barcodes(Image.open(page))]
    assert decoded == [printed.signed.seal]
    statement = printed.signed.statement
    trust = TrustList(issued_at_ms=0, registry_key="", keys=[TrustedKey(
        kid=statement.kid, public_key=public_key_pem(key), inspector_id=statement.signer,
        device_id=statement.device_id, valid_from_ms=statement.signed_at_ms - 86_400_000)],
        public_url=PUBLIC_URL)
    assert verify_seal(decoded[0], trust).verdict == "genuine"


def test_the_same_protocol_gives_the_same_bytes(printed: PrintedProtocol) -> None:
    first = render_pdf(printed, "ru")
    assert render_pdf(printed, "ru") == first
    assert render_pdf(printed, "uz-Latn") != first
    assert b"/CreationDate (D:20261126060000Z)" in first  # the signing time, not the clock


def test_an_unsigned_protocol_prints_as_a_draft(printed: PrintedProtocol,
                                                tmp_path: Path) -> None:
    draft = PrintedProtocol(printed.protocol, printed.template)
    text = pdftotext(render_pdf(draft, "en"), tmp_path)
    assert "This protocol is not signed: it is a draft." in text
    assert "Not yet registered in the registry" in text
