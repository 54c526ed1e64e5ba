"""Console accounts for tests of a running registry: made through the registry's own services
on its database and keys, and signed in over HTTP the way a browser does (the form's CSRF token,
the password, then the one-time code)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp

from field_sync.confirmation import TOTP_STEP_S
from field_sync_cli.local_server import LocalServer
from server import Database
from server.authority.keys import RegistryKeys
from server.services.accounts import create_account
from server.services.signin import accept_invitation

__all__ = ["PASSWORD", "Person", "csrf_token", "person", "signed_in"]

PASSWORD = "tarozi-toshlari-2026"
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


@dataclass
class Person:
    """An account and what its holder knows: the password and the app's secret."""

    name: str
    role: str
    secret: str
    password: str = PASSWORD
    steps_used: int = 1

    def code(self) -> str:
        """The app's next code: a step later than the last one used (a code is taken once)."""
        now_s = time.time()
        code: str = pyotp.TOTP(self.secret, interval=TOTP_STEP_S).at(
            now_s, counter_offset=self.steps_used)
        self.steps_used += 1
        return code


def person(server: LocalServer, name: str, role: str, regions: tuple[str, ...] = ()) -> Person:
    """An active account on ``server``'s registry (invited, then the invitation taken up)."""
    database = Database(server.db_url or f"sqlite:///{Path(server.data_dir) / 'field-sync.db'}")
    try:
        invitation = create_account(database, "cli", name, f"{name.title()} Karimova", role,
                                    regions)
        secret = pyotp.random_base32()
        accept_invitation(database, RegistryKeys.load(server.data_dir), invitation.code,
                          PASSWORD, PASSWORD, secret,
                          pyotp.TOTP(secret, interval=TOTP_STEP_S).now())
    finally:
        database.dispose()
    return Person(name, role, secret)


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token a console page's forms carry."""
    found = _TOKEN.search(page.text)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


def signed_in(server: LocalServer, who: Person) -> httpx.Client:
    """A client with ``who`` signed in (its cookies are the session and the CSRF token)."""
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=True)
    page = client.get("/console/sign-in")
    page = client.post("/console/sign-in", data={
        "name": who.name, "password": who.password, "_csrf_token": csrf_token(page)})
    assert page.url.path == "/console/sign-in/code", page.text
    page = client.post("/console/sign-in/code", data={
        "code": who.code(), "_csrf_token": csrf_token(page)})
    assert page.url.path == "/console", (page.url, page.text[:2000])
    return client
