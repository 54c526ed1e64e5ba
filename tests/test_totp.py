"""One-time codes: RFC 6238 Appendix B through pyotp with the registry's parameters, the drift
window of ``matching_totp_step``, and a cross-check against an independent implementation
(``oathtool`` from oath-toolkit)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pyotp
import pytest

from field_sync.confirmation import TOTP_STEP_S, matching_totp_step

pytestmark = pytest.mark.database_free

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [  # (T, TOTP with 8 digits, SHA-1)
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
# secrets of the length the registry provisions (pyotp.random_base32: 160 bits), fixed so that
# the no-collision precondition below is checked once, not left to chance
OTHER_SECRETS = ["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "N5FZMXQ2KCRHZLGVDA7YSTW6OBJE34IU",
                 "7TQKZ3MUVAXWYR2HLGE6ND5SBOJICP4F"]
TIMES = [59, 1111111109, 1234567890, 1795089600, 1795089629, 2000000000]


def registry_totp(secret: str, digits: int = 6) -> pyotp.TOTP:
    """pyotp as ``matching_totp_step`` configures it: SHA-1, 30-second steps."""
    return pyotp.TOTP(secret, interval=TOTP_STEP_S, digest=hashlib.sha1, digits=digits)


def test_rfc_secret_is_the_rfc_seed() -> None:
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert TOTP_STEP_S == 30


@pytest.mark.parametrize(("at", "expected"), RFC_VECTORS)
def test_rfc6238_appendix_b_sha1(at: int, expected: str) -> None:
    assert registry_totp(RFC_SECRET, digits=8).at(at) == expected
    # the six-digit code an authenticator shows is the same truncation, modulo 10**6
    assert registry_totp(RFC_SECRET).at(at) == expected[-6:]
    # and pyotp's defaults are the parameters matching_totp_step relies on
    assert pyotp.TOTP(RFC_SECRET).at(at) == expected[-6:]


@pytest.mark.parametrize(("at", "expected"), RFC_VECTORS)
def test_matching_step_finds_rfc_codes(at: int, expected: str) -> None:
    assert matching_totp_step(RFC_SECRET, expected[-6:], at * 1000) == at // TOTP_STEP_S
    # milliseconds inside the second do not matter
    assert matching_totp_step(RFC_SECRET, expected[-6:], at * 1000 + 999) == at // TOTP_STEP_S


@pytest.mark.parametrize("secret", [RFC_SECRET, *OTHER_SECRETS[:2]])
@pytest.mark.parametrize("at", [1111111109, 1234567890, 1795089600, 1795089629, 2000000000])
def test_drift_window_is_one_step_either_way(secret: str, at: int) -> None:
    app = registry_totp(secret)
    step = at // TOTP_STEP_S
    codes = {drift: app.at((step + drift) * TOTP_STEP_S) for drift in range(-3, 4)}
    assert len(set(codes.values())) == len(codes), "pick a time whose codes do not collide"
    signed_at_ms = at * 1000
    for drift in (-1, 0, 1):
        assert matching_totp_step(secret, codes[drift], signed_at_ms) == step + drift
    for drift in (-3, -2, 2, 3):
        assert matching_totp_step(secret, codes[drift], signed_at_ms) is None


def test_wrong_shapes_never_match() -> None:
    at_ms = 1234567890 * 1000
    right = registry_totp(RFC_SECRET).at(1234567890)
    for code in ("", right[:-1], right + "0", " " + right, "89005924", "abcdef"):
        assert matching_totp_step(RFC_SECRET, code, at_ms) is None


def _oathtool(*arguments: str) -> str:
    binary = shutil.which("oathtool")
    if binary is None:
        pytest.fail("oathtool is not installed: the TOTP cross-check needs Debian's oathtool "
                    "(apt-get install -y oathtool)")
    result = subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(("at", "expected"), RFC_VECTORS)
def test_oathtool_agrees_on_rfc_vectors(at: int, expected: str) -> None:
    assert _oathtool("--totp", "-b", "-d", "8", RFC_SECRET, "--now", f"@{at}") == expected


@pytest.mark.parametrize("secret", OTHER_SECRETS)
def test_oathtool_agrees_with_pyotp_and_the_registry(secret: str) -> None:
    for at in TIMES:
        ours = registry_totp(secret).at(at)
        assert _oathtool("--totp", "-b", secret, "--now", f"@{at}") == ours
        assert matching_totp_step(secret, ours, at * 1000) == at // TOTP_STEP_S
    # -w 2: the code at the given time and those of the next two steps
    window = _oathtool("--totp", "-b", "-w", "2", secret, "--now", "@1795089600").split()
    step = 1795089600 // TOTP_STEP_S
    assert window == [registry_totp(secret).at((step + drift) * TOTP_STEP_S)
                      for drift in range(3)]
    assert [matching_totp_step(secret, code, 1795089600 * 1000) for code in window] == [
        step, step + 1, None]
