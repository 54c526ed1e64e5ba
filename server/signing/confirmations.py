"""Checking a signature's confirmation at ingest: the TOTP code or the biometric assertion.

TOTP codes are checked against the recorded signing time; each time step is accepted once per
inspector (a set of used steps, since protocols arrive out of order), and wrong codes count
towards a lockout. Every wrong code, and every lockout, is written to the audit log.
"""

from __future__ import annotations

from sqlmodel import Session

from field_sync.confirmation import ConfirmationFailed, check_biometric, matching_totp_step
from schemas.signing import BiometricConfirmation, SigningStatement, TotpConfirmation
from server.authority.audit import append as audit
from server.authority.keys import RegistryKeys
from server.config import ServerConfig
from server.data.tables import BiometricCredentialRow, TotpSecretRow, UsedTotpStep

__all__ = ["check_confirmation"]


def _count_failure(session: Session, secret: TotpSecretRow, config: ServerConfig,
                   statement: SigningStatement, failure: ConfirmationFailed, now_ms: int,
                   changed: int) -> None:
    """Count a wrong code towards the lockout, and audit it (and the lockout, if it comes)."""
    secret.failures += 1
    actor = f"device:{statement.device_id}"
    audit(session, now_ms, actor, "totp_failed", statement.signer,
          {"code": failure.code, "protocol_id": statement.protocol_id,
           "failures": secret.failures}, changed)
    if secret.failures >= config.totp_max_failures:
        secret.locked_until_ms = now_ms + config.totp_lockout_s * 1000
        secret.failures = 0
        audit(session, now_ms, actor, "totp_locked", statement.signer,
              {"until_ms": secret.locked_until_ms}, changed)


def _match(session: Session, keys: RegistryKeys, secret: TotpSecretRow,
           statement: SigningStatement, code: str) -> int:
    """The time step ``code`` is right for, if it has not been used; else ``ConfirmationFailed``."""
    step = matching_totp_step(keys.secrets.decrypt(secret.secret).decode(), code,
                              statement.signed_at_ms)
    if step is None:
        raise ConfirmationFailed("the one-time code does not match the signing time",
                                 code="totp_invalid")
    if session.get(UsedTotpStep, (statement.signer, step)) is not None:
        raise ConfirmationFailed("this one-time code was already used", code="totp_replayed")
    return step


def _check_totp(session: Session, keys: RegistryKeys, config: ServerConfig,
                statement: SigningStatement, code: str, now_ms: int, changed: int) -> None:
    secret = session.get(TotpSecretRow, statement.signer)
    if secret is None:
        raise ConfirmationFailed("no one-time code is set up for this inspector",
                                 code="totp_not_set_up")
    if secret.locked_until_ms > now_ms:
        failure = ConfirmationFailed("too many wrong codes: one-time codes are locked for now",
                                     code="totp_locked")
        audit(session, now_ms, f"device:{statement.device_id}", "totp_failed",
              statement.signer, {"code": failure.code, "protocol_id": statement.protocol_id},
              changed)
        raise failure
    session.add(secret)
    try:
        step = _match(session, keys, secret, statement, code)
    except ConfirmationFailed as failure:
        _count_failure(session, secret, config, statement, failure, now_ms, changed)
        raise
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
                       statement: SigningStatement, now_ms: int, changed: int) -> None:
    """Raise ``ConfirmationFailed`` (with a code) unless the statement's confirmation holds;
    wrong one-time codes are audited under the change number ``changed``."""
    confirmation = statement.confirmation
    kind = "totp" if isinstance(confirmation, TotpConfirmation) else "biometric"
    if config.confirmation not in ("any", kind):
        raise ConfirmationFailed(f"the registry's policy requires {config.confirmation}",
                                 code="confirmation_policy")
    if isinstance(confirmation, TotpConfirmation):
        _check_totp(session, keys, config, statement, confirmation.code, now_ms, changed)
    else:
        _check_biometric(session, config, statement, confirmation)
