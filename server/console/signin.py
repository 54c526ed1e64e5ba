"""Signing in to the console: the name and password, then the one-time code; signing out; and
taking up an invitation (a password and a one-time-code app, proved by a first code)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from field_sync.qr import qr_svg
from server.api.client_address import client_address
from server.api.parameters import KeyPath
from server.api.problems import ProblemError
from server.console.auth import signed_in, signed_in_account
from server.console.forms import Form, checked_text
from server.console.pages import console_page, flash, problem_text, see_other
from server.console.sessions import rotate
from server.data.clock import now_ms
from server.registry import Registry
from server.services.signin import (
    Lockout,
    accept_invitation,
    check_code,
    check_password,
    invitation,
    new_totp_secret,
    sign_out,
    totp_uri,
)

__all__ = ["SignInController"]

_CODE_WINDOW_MS = 5 * 60 * 1000
"""How long after the password the one-time code may come."""


def _next(target: str) -> str:
    """Where to go after signing in: a console page, never another site, nor an address a
    redirect could not carry (a control character)."""
    return target if target.startswith("/console") and not target.startswith("//") and \
        target.isprintable() else "/console"


class SignInController(Controller):
    """The sign-in pages: open to anyone."""

    path = "/console"

    @get("/sign-in", sync_to_thread=True)
    def sign_in_page(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     next: FromQuery[str] = "") -> Template | Redirect:
        """The name and password."""
        if signed_in_account(request) is not None:
            return see_other(request, _next(next))
        return console_page(request, registry, "sign_in.html", {"next": next, "error": "",
                                                                "name": ""})

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any],
                      registry: NamedDependency[Registry]) -> Template | Redirect:
        """Check the password; the code comes next."""
        form = await Form.read(request)
        name, target = form.value("name").lower(), _next(form.value("next"))
        try:
            account = await registry.run(check_password, registry.database,
                                         checked_text("name", name, 64),
                                         form.text("password", 1024), client_address(request),
                                         Lockout.of(registry.config))
        except ProblemError as refused:
            return console_page(request, registry, "sign_in.html", {
                "next": target, "error": problem_text(request, refused), "name": name},
                status=refused.status_code)
        request.set_session({"pending": account.id, "pending_at": now_ms(), "next": target})
        rotate(request.session)
        return see_other(request, "/console/sign-in/code")

    @get("/sign-in/code", sync_to_thread=False)
    def code_page(self, request: Request[Any, Any, Any],
                  registry: NamedDependency[Registry]) -> Template | Redirect:
        """The one-time code, after the password."""
        if "pending" not in request.session:
            return see_other(request, "/console/sign-in")
        return console_page(request, registry, "code.html", {"error": ""})

    @post("/sign-in/code")
    async def code(self, request: Request[Any, Any, Any],
                   registry: NamedDependency[Registry]) -> Template | Redirect:
        """Check the code; signed in."""
        pending, since = request.session.get("pending"), int(request.session.get("pending_at", 0))
        if not pending or now_ms() - since > _CODE_WINDOW_MS:
            request.clear_session()
            return see_other(request, "/console/sign-in")
        form = await Form.read(request)
        try:
            account = await registry.run(check_code, registry.database, registry.keys,
                                         str(pending), form.text("code", 16),
                                         client_address(request), Lockout.of(registry.config))
        except ProblemError as refused:
            return console_page(request, registry, "code.html",
                                {"error": problem_text(request, refused)},
                                status=refused.status_code)
        target = _next(str(request.session.get("next", "")))
        request.set_session({"account": account.id, "since": now_ms()})
        rotate(request.session)
        # Back where the visitor was sent from (its query keeps its language), or home.
        return Redirect(target, status_code=303) if "?" in target else \
            see_other(request, target)

    @post("/sign-out", guards=[signed_in])
    async def sign_out(self, request: Request[Any, Any, Any],
                       registry: NamedDependency[Registry]) -> Redirect:
        """End the session."""
        await registry.run(sign_out, registry.database, request.state.account.id)
        request.clear_session()
        return see_other(request, "/console/sign-in")

    @get("/invitation/{code:str}", sync_to_thread=True)
    def invitation_page(self, request: Request[Any, Any, Any],
                        registry: NamedDependency[Registry], code: KeyPath) -> Template:
        """Set a password and enroll a one-time-code app (its QR shown to scan)."""
        invited = invitation(registry.database, code)
        if invited is None:
            return console_page(request, registry, "invitation.html", {"invited": None},
                                status=404)
        secret = request.session.get("enrolling") or new_totp_secret()
        request.session["enrolling"] = secret
        uri = totp_uri(secret, invited.id, "field-sync console")
        return console_page(request, registry, "invitation.html", {
            "invited": invited, "secret": secret, "qr": qr_svg(uri).decode(), "error": "",
            "code": code})

    @post("/invitation/{code:str}")
    async def accept(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     code: KeyPath) -> Template | Redirect:
        """Take up the invitation."""
        form = await Form.read(request)
        secret = str(request.session.get("enrolling", ""))
        try:
            await registry.run(accept_invitation, registry.database, registry.keys, code,
                               form.text("password", 1024), form.text("repeated", 1024), secret,
                               form.text("code", 16))
        except ProblemError as refused:
            invited = invitation(registry.database, code)
            uri = totp_uri(secret, invited.id, "field-sync console") if invited else ""
            return console_page(request, registry, "invitation.html", {
                "invited": invited, "secret": secret, "qr": qr_svg(uri).decode() if uri else "",
                "error": problem_text(request, refused), "code": code}, status=400)
        request.session.pop("enrolling", None)
        flash(request, "success", "console.invitation.done")
        return see_other(request, "/console/sign-in")
