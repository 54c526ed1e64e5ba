"""The templates the registry knows, cached in memory and loaded from the database on a miss."""

from __future__ import annotations

import threading

import msgspec
from sqlmodel import Session, select

from schemas import Template
from server.data.tables import TemplateRow

__all__ = ["TemplateCatalog"]

_decoder = msgspec.json.Decoder(Template)


class TemplateCatalog:
    """Template by reference (``id@version``). Templates never change once published, so a
    cached one is never stale; a new one is found on its first use."""

    def __init__(self) -> None:
        self._known: dict[str, Template] = {}
        self._lock = threading.Lock()

    def cached(self, ref: str) -> Template | None:
        """The template ``ref`` if it is in memory already."""
        return self._known.get(ref)

    def get(self, session: Session, ref: str) -> Template | None:
        """The template ``ref``, or None if the registry has none by that name (nor by a name
        with a NUL, which PostgreSQL could not even look for)."""
        found = self._known.get(ref)
        if found is None and "\x00" not in ref:
            row = session.get(TemplateRow, ref)
            if row is None:
                return None
            found = _decoder.decode(row.body)
            with self._lock:
                self._known[ref] = found
        return found

    @staticmethod
    def changed_since(session: Session, changed: int) -> list[Template]:
        """Templates published after change number ``changed``."""
        rows = session.exec(select(TemplateRow).where(TemplateRow.changed > changed))
        return [_decoder.decode(row.body) for row in rows]
