"""Confirmations: a one-time code (TOTP) or a biometric assertion (WebAuthn).

The tablet cannot check a TOTP code (it never holds the secret); the registry checks it against
the recorded signing time, one 30-second step of drift either way, and says which step matched so
that the same step is never accepted twice for one inspector. A biometric assertion is checked
with the ``webauthn`` package: its challenge binds the protocol's content hash and the signing
time (``biometric_challenge``), as a one-time code is bound to the time it was shown, so an
assertion made for one time is no good at another; and the authenticator must report user
verification.
"""

from __future__ import annotations

import hashlib
import hmac

import pyotp
from webauthn import verify_authentication_response
from webauthn.helpers.exceptions import InvalidAuthenticationResponse
from webauthn.helpers.structs import AuthenticationCredential, AuthenticatorAssertionResponse

from field_sync.canonical import canonical_bytes
from field_sync.errors import FieldSyncError
from field_sync.signing import from_b64url
from schemas.signing import BiometricConfirmation

__all__ = ["TOTP_STEP_S", "ConfirmationFailed", "biometric_challenge", "check_biometric",
           "matching_totp_step"]

TOTP_STEP_S = 30


class ConfirmationFailed(FieldSyncError, ValueError):
    """A confirmation that does not verify."""

    code = "confirmation_failed"


def matching_totp_step(secret: str, code: str, signed_at_ms: int) -> int | None:
    """The time step whose code ``code`` is, within one step of the signing time, else None."""
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_S)
    at_s = signed_at_ms // 1000
    step = at_s // TOTP_STEP_S
    for drift in (0, -1, 1):
        if hmac.compare_digest(totp.at(at_s, counter_offset=drift), code):
            return step + drift
    return None


def biometric_challenge(content_hash: str, signed_at_ms: int) -> bytes:
    """The WebAuthn challenge of a signature over ``content_hash`` dated ``signed_at_ms``:
    SHA-256 of the canonical ``["field-sync/biometric/1", content_hash, signed_at_ms]``."""
    return hashlib.sha256(canonical_bytes(["field-sync/biometric/1", content_hash,
                                           signed_at_ms])).digest()


def check_biometric(
    confirmation: BiometricConfirmation,
    content_hash: str,
    signed_at_ms: int,
    credential_public_key: bytes,
    sign_count: int,
    rp_id: str,
    origins: list[str],
) -> int:
    """Verify an assertion over ``content_hash`` signed at ``signed_at_ms``; return the
    authenticator's new sign count."""
    try:
        credential = AuthenticationCredential(
            id=confirmation.credential_id,
            raw_id=from_b64url(confirmation.credential_id),
            response=AuthenticatorAssertionResponse(
                client_data_json=from_b64url(confirmation.client_data_json),
                authenticator_data=from_b64url(confirmation.authenticator_data),
                signature=from_b64url(confirmation.signature),
            ),
        )
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=biometric_challenge(content_hash, signed_at_ms),
            expected_rp_id=rp_id,
            expected_origin=origins,
            credential_public_key=credential_public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError) as exc:
        raise ConfirmationFailed(f"the biometric assertion does not verify: {exc}",
                                 code="biometric_invalid") from exc
    return int(verified.new_sign_count)
