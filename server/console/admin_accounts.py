"""Administrators' accounts page: make supervisors and administrators (an invitation link,
shown once), limit a supervisor to regions, disable an account or invite its holder again."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from server.api.parameters import KeyPath
from server.api.problems import NotFound, ProblemError
from server.console.auth import administrator, current_account
from server.console.forms import Form
from server.console.pages import (
    console_page,
    flash,
    language,
    message,
    problem_text,
    see_other,
)
from server.registry import Registry
from server.services import accounts as account_service
from server.services.regions import known_regions

__all__ = ["AccountPages"]


def _actor(request: Request[Any, Any, Any]) -> str:
    return f"account:{current_account(request).id}"


def _accounts_page(request: Request[Any, Any, Any], registry: Registry, error: str = "",
                   status: int = 200) -> Template:
    return console_page(request, registry, "admin/accounts.html", {
        "accounts": account_service.accounts(registry.database), "error": error,
        "regions": known_regions(registry.database),
        "role_options": [(role, message(language(request), f"console.role.{role}"))
                         for role in account_service.ROLES]},
        section="accounts", status=status)


def _invitation_page(request: Request[Any, Any, Any], registry: Registry,
                     invitation: account_service.Invitation) -> Template:
    return console_page(request, registry, "admin/invitation_link.html", {
        "invitation": invitation, "link": invitation.link(registry.public_url(request))},
        section="accounts")


class AccountPages(Controller):
    """Administrators."""

    path = "/console/admin/accounts"
    guards = [administrator]

    @get("/", sync_to_thread=True)
    def list(self, request: Request[Any, Any, Any],
             registry: NamedDependency[Registry]) -> Template:
        """Every account, and a form to make one."""
        return _accounts_page(request, registry)

    @post("/")
    async def create(self, request: Request[Any, Any, Any],
                     registry: NamedDependency[Registry]) -> Template:
        """Make an account; its invitation link, shown once."""
        form = await Form.read(request)
        try:
            invitation = await registry.run(partial(
                account_service.create_account, registry.database, _actor(request),
                form.text("id", 64).lower(), form.text("full_name", 200), form.text("role", 16),
                form.many("regions"), ttl_s=registry.config.console_invitation_ttl_s))
        except ProblemError as refused:
            return await registry.run(_accounts_page, request, registry,
                                      problem_text(request, refused), 400)
        return _invitation_page(request, registry, invitation)

    @get("/{account_id:str}", sync_to_thread=True)
    def account(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                account_id: KeyPath) -> Template:
        """An account: regions, disabling, a new invitation."""
        found = account_service.account(registry.database, account_id)
        if found is None:
            raise NotFound("unknown_account", f"no account {account_id!r}")
        return console_page(request, registry, "admin/account.html", {
            "shown": found, "regions": known_regions(registry.database)}, section="accounts")

    @post("/{account_id:str}")
    async def update(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
                     account_id: KeyPath) -> Template | Redirect:
        """``action``: ``regions`` (with ``regions``), ``disable``, ``enable`` or ``invite``."""
        form = await Form.read(request)
        action, actor = form.text("action", 16), _actor(request)
        database = registry.database
        if action == "invite":
            invitation = await registry.run(partial(
                account_service.invite_again, database, actor, account_id,
                ttl_s=registry.config.console_invitation_ttl_s))
            return _invitation_page(request, registry, invitation)
        if action == "regions":
            await registry.run(account_service.set_regions, database, actor, account_id,
                               form.many("regions"))
        elif action in ("disable", "enable"):
            await registry.run(account_service.disable_account, database, actor, account_id,
                               action == "disable")
        flash(request, "success", "console.accounts.saved")
        return see_other(request, f"/console/admin/accounts/{account_id}")
