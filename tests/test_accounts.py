"""Console accounts: invitations, passwords, one-time codes, lockout and the audit of each,
against the registry's real database; and ``field-sync admin create-user``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from sqlmodel import col, select

from field_sync.confirmation import TOTP_STEP_S
from server import Database
from server.api.problems import BadRequest, Conflict
from server.authority.keys import RegistryKeys
from server.data.clock import now_ms
from server.data.tables import AuditEntryRow
from server.services.accounts import (
    account,
    create_account,
    disable_account,
    invite_again,
    set_regions,
)
from server.services.signin import (
    Lockout,
    SignInRefused,
    accept_invitation,
    check_code,
    check_password,
    invitation,
)
from tests.databases import execute

PASSWORD = "yashil-olma-daraxti-2026"


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    opened = Database(db_url)
    opened.create_schema()
    yield opened
    opened.dispose()


@pytest.fixture
def keys(tmp_path: Path) -> RegistryKeys:
    return RegistryKeys.load(tmp_path / "keys")


def _code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret, interval=TOTP_STEP_S).at(now_ms() // 1000,
                                                       counter_offset=steps_ahead)


def _actions(database: Database, subject: str) -> list[str]:
    with database.read() as session:
        return list(session.exec(select(AuditEntryRow.action).where(
            col(AuditEntryRow.subject) == subject).order_by(col(AuditEntryRow.seq))))


def _active(database: Database, keys: RegistryKeys, name: str = "ana",
            role: str = "supervisor") -> str:
    """An account that took up its invitation; its app's secret."""
    made = create_account(database, "account:admin", name, "Ana Karimova", role, ["Buxoro"])
    secret = pyotp.random_base32()
    accept_invitation(database, keys, made.code, PASSWORD, PASSWORD, secret, _code(secret))
    return secret


def test_an_invitation_sets_a_password_and_an_app_once(database: Database,
                                                       keys: RegistryKeys) -> None:
    made = create_account(database, "cli", "ana", "Ana Karimova", "supervisor", ["Buxoro"])
    assert made.link("https://registry.example/") == \
        f"https://registry.example/console/invitation/{made.code}"
    invited = invitation(database, made.code)
    assert invited is not None and not invited.active and invited.regions == ("Buxoro",)
    secret = pyotp.random_base32()
    for password, repeated, code, expected in (
            ("short", "short", _code(secret), "weak_password"),
            (PASSWORD, PASSWORD + "x", _code(secret), "passwords_differ"),
            ("ana", "ana", _code(secret), "weak_password"),
            (PASSWORD, PASSWORD, "000000" if _code(secret) != "000000" else "111111",
             "bad_code")):
        with pytest.raises(BadRequest) as refused:
            accept_invitation(database, keys, made.code, password, repeated, secret, code)
        assert refused.value.code == expected
    activated = accept_invitation(database, keys, made.code, PASSWORD, PASSWORD, secret,
                                  _code(secret))
    assert activated.active
    with pytest.raises(SignInRefused) as spent:
        accept_invitation(database, keys, made.code, PASSWORD, PASSWORD, secret, _code(secret))
    assert spent.value.code == "bad_invitation"
    assert invitation(database, made.code) is None
    assert _actions(database, "ana") == ["account_created", "account_activated"]


def test_password_then_code_signs_in_and_a_code_is_taken_once(database: Database,
                                                              keys: RegistryKeys) -> None:
    secret = _active(database, keys)
    assert check_password(database, "ana", PASSWORD).id == "ana"
    # The code the invitation was proved with is spent; the next step's is good.
    with pytest.raises(SignInRefused):
        check_code(database, keys, "ana", _code(secret))
    assert check_code(database, keys, "ana", _code(secret, 1)).id == "ana"
    with pytest.raises(SignInRefused):
        check_code(database, keys, "ana", _code(secret, 1))
    assert _actions(database, "ana")[-3:] == ["sign_in_failed", "signed_in", "sign_in_failed"]


def test_five_failures_lock_the_account_even_against_the_right_password(
        database: Database, keys: RegistryKeys, db_url: str) -> None:
    _active(database, keys)
    for _ in range(Lockout().after):
        with pytest.raises(SignInRefused) as refused:
            check_password(database, "ana", "not the password")
        assert refused.value.code == "sign_in_failed"
    locked = account(database, "ana")
    assert locked is not None and locked.locked_until_ms > now_ms()
    with pytest.raises(SignInRefused) as still:
        check_password(database, "ana", PASSWORD)
    assert still.value.code == "sign_in_failed"  # the same answer as a wrong password
    actions = _actions(database, "ana")
    assert actions.count("sign_in_failed") == Lockout().after and "account_locked" in actions
    execute(db_url, "UPDATE account SET locked_until_ms = 0")  # a quarter of an hour later
    assert check_password(database, "ana", PASSWORD).id == "ana"


def test_a_name_nobody_holds_fails_alike_and_is_audited(database: Database) -> None:
    with pytest.raises(SignInRefused) as refused:
        check_password(database, "nobody", PASSWORD)
    assert refused.value.code == "sign_in_failed"
    assert _actions(database, "nobody") == ["sign_in_failed"]


def test_disabled_and_invited_again(database: Database, keys: RegistryKeys) -> None:
    _active(database, keys)
    disable_account(database, "account:admin", "ana")
    with pytest.raises(SignInRefused):
        check_password(database, "ana", PASSWORD)
    again = invite_again(database, "account:admin", "ana")
    reset = account(database, "ana")
    assert reset is not None and not reset.active and not reset.disabled
    secret = pyotp.random_base32()
    accept_invitation(database, keys, again.code, PASSWORD + "!", PASSWORD + "!", secret,
                      _code(secret))
    assert check_password(database, "ana", PASSWORD + "!").id == "ana"
    with pytest.raises(Conflict):
        create_account(database, "cli", "ana", "Another Ana", "supervisor")
    with pytest.raises(Conflict):
        disable_account(database, "account:ana", "ana")
    assert _actions(database, "ana")[1:] == [
        "account_activated", "account_disabled", "sign_in_failed", "account_invited",
        "account_activated"]


def test_regions_limit_a_supervisor_not_an_administrator(database: Database,
                                                         keys: RegistryKeys) -> None:
    _active(database, keys)
    limited = set_regions(database, "account:admin", "ana", ["Xorazm", " ", "Buxoro"])
    assert limited.regions == ("Buxoro", "Xorazm")
    assert limited.reach.regions == frozenset({"Buxoro", "Xorazm"})
    assert set_regions(database, "account:admin", "ana", []).reach.regions is None
    create_account(database, "cli", "root", "Bosh administrator", "administrator", ["Buxoro"])
    administrator = account(database, "root")
    assert administrator is not None and administrator.reach.regions is None
    with pytest.raises(BadRequest):
        set_regions(database, "account:admin", "root", ["Buxoro"])


@pytest.mark.parametrize(("name", "role"), [("Bad Name", "supervisor"), ("ok", "king")])
def test_bad_names_and_roles_are_refused(database: Database, name: str, role: str) -> None:
    with pytest.raises(BadRequest):
        create_account(database, "cli", name, "Someone", role)


def test_create_user_prints_the_first_administrators_invitation(
        tmp_path: Path, db_url: str, database: Database, keys: RegistryKeys) -> None:
    command = [sys.executable, "-m", "field_sync_cli.main", "admin", "create-user", "root",
               "--full-name", "Bosh administrator", "--data-dir", str(tmp_path), "--db", db_url,
               "--public-url", "https://registry.example"]
    made = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip().splitlines()[-1]
    assert link.startswith("https://registry.example/console/invitation/")
    invited = invitation(database, link.rpartition("/")[2])
    assert invited is not None and invited.role == "administrator"
    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr.strip() == "field-sync: not made: account 'root' already exists"
    unreachable = subprocess.run([*command[:-4], "--db", "postgresql://nobody@127.0.0.1:1/x"],
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 3
    assert len(unreachable.stderr.strip().splitlines()) == 1
