"""The console's registry page on a large registry: a page of 50 protocols rendered, newest
signed first, as a supervisor of every region and as one limited to a region, on keyset pages
anywhere in the registry, and filtered by status and by entity. Used by ``bench/registry.py``.

The supervisors' accounts are made and taken up through the registry's own services, and their
sessions written straight into its session table (what signing in leaves there): the figure is
the page, not the password's argon2.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp

from server.api.auth import hash_secret
from server.authority.keys import RegistryKeys
from server.config import ServerConfig
from server.console.sessions import ConsoleSessionBackend
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import WebSessionRow
from server.services.accounts import create_account
from server.services.signin import accept_invitation

__all__ = ["REGIONS", "console_kinds", "region_of"]

REGIONS = ("Andijon", "Buxoro", "Fargʻona", "Jizzax", "Xorazm", "Namangan", "Navoiy",
           "Qashqadaryo", "Qoraqalpogʻiston", "Samarqand", "Sirdaryo", "Surxondaryo",
           "Toshkent viloyati", "Toshkent shahri")
"""Uzbekistan's regions, as the fill gives its sites."""
_PASSWORD = "bench-password-not-a-secret"  # noqa: S105 (a throwaway account of the bench)


def region_of(entity: int) -> str:
    """The region of an entity's sites in the fill."""
    return REGIONS[entity % len(REGIONS)]


def _signed_in(database: Database, keys: RegistryKeys, regions: tuple[str, ...]) -> str:
    """A new supervisor account, taken up and signed in; its session id (the cookie)."""
    name = f"bench-{secrets.token_hex(4)}"
    invitation = create_account(database, "bench", name, "Bench Nazoratchi", "supervisor",
                                regions)
    secret = pyotp.random_base32()
    accept_invitation(database, keys, invitation.code, _PASSWORD, _PASSWORD, secret,
                      pyotp.TOTP(secret).now())
    session_id = secrets.token_hex(32)
    data = ConsoleSessionBackend.serialize_data({"account": name, "since": now_ms()})
    with database.write() as session:
        session.add(WebSessionRow(id_hash=hash_secret(session_id), data=data,
                                  expires_at_ms=now_ms() + ServerConfig.console_session_s * 1000))
    return session_id


def _page(client: httpx.Client, session_id: str) -> Callable[[dict[str, str]], None]:
    cookies = {"field_sync_console": session_id}

    def get(params: dict[str, str]) -> None:
        response = client.get("/console/registry", params=params, cookies=cookies)
        assert response.status_code == 200, response.text[:500]
        assert response.text.count('<th scope="row">') <= 50
    return get


def console_kinds(database: Database, data_dir: Path, client: httpx.Client,
                  entities: list[str], span_ms: tuple[int, int], count: int,
                  seed: int) -> dict[str, tuple[Callable[[Any], object], list[Any]]]:
    """Each kind of console page, and ``count`` requests of it: random keyset pages (a cursor
    at a random signing time), first pages by status and by entity."""
    keys = RegistryKeys.load(data_dir)
    everywhere = _page(client, _signed_in(database, keys, ()))
    rng = random.Random(seed)
    region = rng.choice(REGIONS)
    limited = _page(client, _signed_in(database, keys, (region,)))
    first, last = span_ms

    def cursor() -> str:
        return f"{rng.randrange(first, last)}.ffffffff-ffff-4fff-bfff-ffffffffffff"

    return {
        "console_first_page": (everywhere, [{} for _ in range(count)]),
        "console_keyset_page": (everywhere, [{"after": cursor()} for _ in range(count)]),
        "console_region_page": (limited, [{"after": cursor()} for _ in range(count)]),
        "console_quarantined": (everywhere, [{"status": "quarantined", "after": cursor()}
                                             for _ in range(count)]),
        "console_entity": (everywhere, [{"entity": entity} for entity in entities[:count]]),
    }
