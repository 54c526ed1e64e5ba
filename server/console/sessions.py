"""Console sessions, kept in the registry's database (``web_session``); the browser holds a
random id in an HttpOnly, SameSite=Lax cookie (Secure when the registry's public address is
https).

Litestar's server-side session backend, with three changes that matter here: a request that
leaves its session as it found it writes nothing (every page would otherwise be a database
write), an empty session is never stored (a visitor who never signs in gets no row and no
cookie), and a session asks for a new id when its holder signs in (``rotate``), so an id
planted in a browser before sign-in is worth nothing after it. An id the registry did not
issue is never taken up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import delete
from sqlmodel import col

from server.api.auth import hash_secret
from server.data.clock import now_ms
from server.data.database import Database
from server.data.tables import WebSessionRow

__all__ = ["ConsoleSessionConfig", "DatabaseStore", "rotate"]

_ROTATE = "_rotate"
_LOADED = "field_sync.session_loaded"


def rotate(session: dict[str, Any]) -> None:
    """Give ``session`` a new id when the response goes out (at sign-in)."""
    session[_ROTATE] = True


def _seconds(expires_in: int | dt.timedelta) -> int:
    return int(expires_in.total_seconds()) if isinstance(expires_in, dt.timedelta) else expires_in


class DatabaseStore(Store):
    """A Litestar store over the ``web_session`` table, keyed by the SHA-256 of the id. Bound
    to the registry's database when the app starts (``bind``)."""

    def __init__(self, lifetime_s: int) -> None:
        self.database: Database | None = None
        self.lifetime_s = lifetime_s
        """How long a session lasts when the one who writes it does not say."""

    def bind(self, database: Database) -> None:
        """Keep sessions in ``database`` from now on."""
        self.database = database

    def _db(self) -> Database:
        assert self.database is not None, "the store is bound when the app starts"
        return self.database

    def _set(self, key: str, value: bytes, seconds: int) -> None:
        now = now_ms()
        with self._db().write() as session:
            # Sessions are written at sign-in and sign-out only: the moment to sweep.
            session.execute(delete(WebSessionRow).where(col(WebSessionRow.expires_at_ms) < now))
            row = session.get(WebSessionRow, hash_secret(key)) or WebSessionRow(
                id_hash=hash_secret(key), data=b"", expires_at_ms=0)
            row.data, row.expires_at_ms = value, now + seconds * 1000
            session.add(row)

    def _get(self, key: str) -> WebSessionRow | None:
        with self._db().read() as session:
            row = session.get(WebSessionRow, hash_secret(key))
        return row if row is not None and row.expires_at_ms > now_ms() else None

    def _delete(self, key: str) -> None:
        with self._db().write() as session:
            session.execute(delete(WebSessionRow).where(
                col(WebSessionRow.id_hash) == hash_secret(key)))

    async def set(self, key: str, value: str | bytes,
                  expires_in: int | dt.timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await anyio.to_thread.run_sync(self._set, key, data, self.lifetime_s
                                       if expires_in is None else _seconds(expires_in))

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        row = await anyio.to_thread.run_sync(self._get, key)
        return None if row is None else row.data

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete, key)

    async def delete_all(self) -> None:
        def every() -> None:
            with self._db().write() as session:
                session.execute(delete(WebSessionRow))
        await anyio.to_thread.run_sync(every)

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._get, key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await anyio.to_thread.run_sync(self._get, key)
        return None if row is None else max(0, (row.expires_at_ms - now_ms()) // 1000)


class ConsoleSessionBackend(ServerSideSessionBackend):
    """Writes a session only when it changed; never stores an empty one; rotates on asking."""

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]
                                   ) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if not session_id or session_id == "null":
            return {}
        store = self.config.get_store_from_app(connection.scope["app"])
        data = await self.get(session_id, store=store)
        if data is None:
            return {}
        cast("dict[str, Any]", connection.scope)[_LOADED] = data
        return self.deserialize_data(data)

    def _cookie(self, value: str, **extra: Any) -> str:
        params = dict(extract_dataclass_items(self.config, exclude_none=True,
                                              include=Cookie.__dict__.keys()))
        return Cookie(value=value, key=self.config.key, **{**params, **extra}).to_header(
            header="")

    async def store_in_message(self, scope_session: ScopeSession, message: Message,
                               connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        store = self.config.get_store_from_app(connection.scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        loaded: bytes | None = cast("dict[str, Any]", connection.scope).get(_LOADED)
        cookie_id = connection.cookies.get(self.config.key)
        if scope_session is Empty or not scope_session:
            if loaded is not None and cookie_id:
                await self.delete(cookie_id, store=store)
            if cookie_id:
                headers.add("Set-Cookie", self._cookie("null", expires=0))
            return
        session = dict(cast("dict[str, Any]", scope_session))
        renew = bool(session.pop(_ROTATE, False))
        data = self.serialize_data(session, connection.scope)
        if data == loaded and not renew:
            return
        if loaded is not None and cookie_id and not renew:
            session_id = cookie_id
        else:
            if loaded is not None and cookie_id:
                await self.delete(cookie_id, store=store)
            session_id = self.generate_session_id()
        await self.set(session_id=session_id, data=data, store=store)
        headers.add("Set-Cookie", self._cookie(session_id))


@dataclass
class ConsoleSessionConfig(ServerSideSessionConfig):
    """Server-side sessions for the console (``ConsoleSessionBackend``)."""

    _backend_class = ConsoleSessionBackend
    key: str = field(default="field_sync_console")
    store: str = field(default="console_sessions")
