"""A console form as the registry reads it: plain fields, each refused rather than cut when it is
longer than its field takes or holds a NUL (which PostgreSQL cannot keep), and a form shaped as
an API message checked against that message's bounds (``schemas.bounds``) as its body would be.

A refusal is a ``BadRequest`` that names the field (``too_long`` with the ``limit``,
``bad_text``, ``invalid_form``): the page says which field, in the reader's words
(``field_word``), and nothing has changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from litestar import Request

from server.api.problems import BadRequest, ProblemError
from server.data.reference import RecordRejected, decode, field_named
from server.web import MESSAGES

__all__ = ["Form", "checked", "checked_text", "field_word", "problem_words"]

S = TypeVar("S", bound=msgspec.Struct)

_LABELS = {
    "id": "console.inspectors.id", "full_name": "console.inspectors.name",
    "region": "console.column.region", "regions": "console.column.region",
    "attested_until": "console.inspectors.attested_until", "title": "console.assignments.name",
    "starts_on": "console.assignments.starts_on", "ends_on": "console.assignments.ends_on",
    "site_id": "console.protocol.site", "inspectors": "console.assignments.team",
    "add": "console.assignments.team", "remove": "console.assignments.team",
    "reason": "console.field.reason", "name": "console.sign_in.name",
    "password": "console.sign_in.password", "repeated": "console.invitation.repeated",
    "code": "console.invitation.code", "after": "console.devices.after",
    **{name: f"console.search.{name}" for name in (
        "number", "registry_number", "entity", "inspector", "site", "status", "signed_from",
        "signed_to")},
    "template": "console.search.kind",
}
"""A form field's label, as the page shows it (the catalog key)."""
_LIMIT = re.compile(r"length <= ([0-9]+)")


def field_word(lang: str, field: str) -> str:
    """A form field's label in ``lang`` (its name where the console has no label for it)."""
    label = _LABELS.get(field)
    return MESSAGES.text(lang, label) if label else field


def checked_text(name: str, text: str, limit: int) -> str:
    """``text`` as field ``name`` may hold it: at most ``limit`` characters, no NUL."""
    if len(text) > limit:
        raise BadRequest("too_long", f"{name} is at most {limit} characters", field=name,
                         limit=limit)
    if "\x00" in text:
        raise BadRequest("bad_text", f"{name} holds a NUL character", field=name)
    return text


def checked(value: S, kind: str = "") -> S:
    """A message a form filled in, checked against its type's bounds as the API checks a body
    (a key, a name, a day…): ``too_long`` or ``invalid_form`` naming the field otherwise. A
    record of reference data (``kind``) is also checked as one, whole (a day that exists…),
    before any part of it is stored."""
    try:
        checked_value = msgspec.convert(msgspec.to_builtins(value), type(value))
    except msgspec.ValidationError as exc:
        field, limit = field_named(exc), _LIMIT.search(str(exc))
        if limit is not None:
            raise BadRequest("too_long", str(exc), field=field, limit=int(limit[1])) from None
        raise BadRequest("invalid_form", str(exc), field=field) from None
    if kind:
        try:
            decode(kind, msgspec.to_builtins(checked_value))
        except RecordRejected as exc:
            raise BadRequest(exc.code, str(exc), field=exc.field) from None
    return checked_value


def problem_words(lang: str, problem: ProblemError) -> dict[str, Any]:
    """What a refusal's words may name: the field (in the reader's words) and its limit."""
    extra = problem.extra if isinstance(problem.extra, dict) else {}
    return {"field": field_word(lang, str(extra.get("field", ""))),
            "limit": extra.get("limit", "")}


class Form:
    """A submitted form's fields, as text."""

    def __init__(self, fields: Mapping[str, Any], lists: Mapping[str, list[str]]) -> None:
        self.fields = fields
        self.lists = lists

    @classmethod
    async def read(cls, request: Request[Any, Any, Any]) -> Form:
        """The form of ``request`` (URL-encoded or multipart)."""
        data = await request.form()
        lists = {key: [str(value) for value in data.getall(key)] for key in data}
        return cls({key: data.get(key) for key in data}, lists)

    def value(self, name: str) -> str:
        """A field's text, trimmed, as it came: to show again, or to fill a message that
        ``checked`` checks."""
        value = self.fields.get(name)
        return value.strip() if isinstance(value, str) else ""

    def text(self, name: str, limit: int = 2000) -> str:
        """A field's text, trimmed, at most ``limit`` characters and without a NUL
        (``BadRequest`` naming the field otherwise)."""
        return checked_text(name, self.value(name), limit)

    def many(self, name: str, limit: int = 100) -> list[str]:
        """Every value of a repeated field, or of a field listing values a line each; each at
        most ``limit`` characters and without a NUL."""
        values = self.lists.get(name, [])
        return [checked_text(name, line.strip(), limit) for value in values
                for line in value.splitlines() if line.strip()]
