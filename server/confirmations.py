"""Checking a signature's confirmation at ingest: the TOTP code or the biometric assertion.

TOTP codes are checked against the recorded signing time; each time step is accepted once per
inspector (a set of used steps, since protocols arrive out of order), and wrong codes count
towards a lockout.
"""

from __future__ import annotations

from sqlmodel import Session

from field_sync.confirmation import ConfirmationFailed, check_biometric, matching_totp_step
from schemas.signing import BiometricConfirmation, SigningStatement, TotpConfirmation
from server.config import ServerConfig
from server.keys import RegistryKeys
from server.tables import BiometricCredentialRow, TotpSecretRow, UsedTotpStep

__all__ = ["check_confirmation"]


def _fail(secret: TotpSecretRow, config: ServerConfig, now_ms: int, code: str,
          reason: str) -> ConfirmationFailed:
    secret.failures += 1
    if secret.failures >= config.totp_max_failures:
        secret.locked_until_ms = now_ms + config.totp_lockout_s * 1000
        secret.failures = 0
    return ConfirmationFailed(reason, code=code)


def _check_totp(session: Session, keys: RegistryKeys, config: ServerConfig,
                statement: SigningStatement, code: str, now_ms: int) -> None:
    secret = session.get(TotpSecretRow, statement.signer)
    if secret is None:
        raise ConfirmationFailed("no one-time code is set up for this inspector",
                                 code="totp_not_set_up")
    if secret.locked_until_ms > now_ms:
        raise ConfirmationFailed("too many wrong codes: one-time codes are locked for now",
                                 code="totp_locked")
    session.add(secret)
    step = matching_totp_step(keys.secrets.decrypt(secret.secret).decode(), code,
                              statement.signed_at_ms)
    if step is None:
        raise _fail(secret, config, now_ms, "totp_invalid",
                    "the one-time code does not match the signing time")
    if session.get(UsedTotpStep, (statement.signer, step)) is not None:
        raise _fail(secret, config, now_ms, "totp_replayed",
                    "this one-time code was already used")
    session.add(UsedTotpStep(inspector_id=statement.signer, step=step))
    secret.failures = 0
    session.flush()


def _check_biometric(session: Session, config: ServerConfig, statement: SigningStatement,
                     confirmation: BiometricConfirmation) -> None:
    credential = session.get(BiometricCredentialRow, confirmation.credential_id)
    if credential is None or credential.device_id != statement.device_id:
        raise ConfirmationFailed("this biometric credential is not registered for the device",
                                 code="biometric_invalid")
    credential.sign_count = check_biometric(
        confirmation, statement.content_hash, statement.signed_at_ms, credential.public_key,
        credential.sign_count, config.webauthn_rp_id, list(config.webauthn_origins))
    session.add(credential)


def check_confirmation(session: Session, keys: RegistryKeys, config: ServerConfig,
                       statement: SigningStatement, now_ms: int) -> None:
    """Raise ``ConfirmationFailed`` (with a code) unless the statement's confirmation holds."""
    confirmation = statement.confirmation
    kind = "totp" if isinstance(confirmation, TotpConfirmation) else "biometric"
    if config.confirmation not in ("any", kind):
        raise ConfirmationFailed(f"the registry's policy requires {config.confirmation}",
                                 code="confirmation_policy")
    if isinstance(confirmation, TotpConfirmation):
        _check_totp(session, keys, config, statement, confirmation.code, now_ms)
    else:
        _check_biometric(session, config, statement, confirmation)
