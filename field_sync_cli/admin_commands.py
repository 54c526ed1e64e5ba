"""``field-sync admin``: what an operator does to a running registry from a shell.

Each command takes ``--server``, ``--admin-token`` and ``--data-dir`` (where the token file is,
on the registry's own machine), but ``rotate-registry-key`` and ``create-user``, which work on
the registry's own files and database; each exits 0 when done, 1 when the registry refused, 2
on a usage error, 3 when the registry or a file could not be reached or read.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from field_sync_cli.errors import FieldSyncGroup, finish
from field_sync_cli.key_ceremony import rotate_registry_key
from field_sync_cli.options import admin_options, database_options, option, resolve_admin_token

if TYPE_CHECKING:
    from field_sync_cli.admin_client import AdminClient

__all__ = ["admin", "print_qr"]


@contextmanager
def _client(server: str, token: str, data_dir: Path) -> Iterator[AdminClient]:
    from field_sync_cli.admin_client import AdminClient

    client = AdminClient(server, resolve_admin_token(token, data_dir))
    try:
        yield client
    finally:
        client.close()


def print_qr(text: str, out: TextIO | None = None) -> None:
    """``text`` as a QR code of half-block characters; at a terminal, white on black, so that
    it reads on a dark or a light background alike."""
    import qrcode

    out = out or sys.stdout
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    code.print_ascii(out=out, tty=out.isatty(), invert=True)


@click.group(cls=FieldSyncGroup)
def admin() -> None:
    """Administer a running registry."""


@admin.group(cls=FieldSyncGroup)
def inspector() -> None:
    """Inspectors."""


@inspector.command("add")
@click.argument("inspector_id")
@click.option("--name", "full_name", required=True, help="The inspector's full name.")
@click.option("--region", default="", help="The inspector's region.")
@click.option("--attested-until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of the inspector's attestation (YYYY-MM-DD); without one the "
                   "registry quarantines what they sign.")
@admin_options
def inspector_add(inspector_id: str, full_name: str, region: str,
                  attested_until: dt.datetime | None, server: str, admin_token: str,
                  data_dir: Path) -> None:
    """Register inspector INSPECTOR_ID."""
    with _client(server, admin_token, data_dir) as client:
        client.create_inspector(inspector_id, full_name, region)
        if attested_until is not None:
            client.put_reference("inspector", inspector_id, {
                "id": inspector_id, "full_name": full_name, "region": region,
                "attested_until": attested_until.date().isoformat()})
    click.echo(f"inspector {inspector_id} ({full_name}) registered")


@admin.command("enroll-code")
@click.argument("inspector_id")
@admin_options
def enroll_code(inspector_id: str, server: str, admin_token: str, data_dir: Path) -> None:
    """A one-time code to enroll INSPECTOR_ID's tablet, as text and as a QR code.

    The QR code carries the registry's address with the code
    (fieldsync://enroll?registry=…&code=…, as the console's does): the tablet scans it and
    needs nothing typed. The first code of an inspector also sets up their one-time-code
    secret: its otpauth URI and QR code are printed this once, for the inspector's
    authenticator app, and never again.
    """
    with _client(server, admin_token, data_dir) as client:
        issued = client.enrollment(inspector_id)
    click.echo(f"Enrollment code for {inspector_id}: {issued.code} "
               f"(valid until {issued.expires_at})")
    print_qr(issued.enrollment_uri or issued.code)
    if issued.enrollment_uri:
        click.echo(issued.enrollment_uri)
    click.echo("Scan it with the tablet, or type the code in.")
    if not issued.totp_uri:
        click.echo("The inspector's one-time-code secret was set up before; it is not shown "
                   "again.")
        return
    click.echo("\nOne-time-code secret, shown this once: scan it into the inspector's "
               "authenticator app now.")
    print_qr(issued.totp_uri)
    click.echo(issued.totp_uri)


@admin.command()
@click.argument("assignment_id")
@click.option("--title", required=True, help="What is inspected, for the inspectors' lists.")
@click.option("--inspector", "inspectors", multiple=True, required=True,
              help="An inspector of the team (give it once for each).")
@click.option("--site", default="", help="The site inspected (its geofence applies).")
@click.option("--starts-on", default="", help="First day, YYYY-MM-DD.")
@click.option("--ends-on", default="", help="Last day, YYYY-MM-DD.")
@admin_options
def assign(assignment_id: str, title: str, inspectors: tuple[str, ...], site: str,
           starts_on: str, ends_on: str, server: str, admin_token: str, data_dir: Path) -> None:
    """Give ASSIGNMENT_ID (made, or replaced) to a team of inspectors."""
    from schemas import Assignment

    with _client(server, admin_token, data_dir) as client:
        client.put_assignment(Assignment(assignment_id, title, inspectors, starts_on=starts_on,
                                         ends_on=ends_on, site_id=site))
    click.echo(f"assignment {assignment_id} given to {', '.join(inspectors)}")


@admin.command("revoke-device")
@click.argument("device_id")
@admin_options
def revoke_device(device_id: str, server: str, admin_token: str, data_dir: Path) -> None:
    """Revoke DEVICE_ID: it can no longer sync."""
    with _client(server, admin_token, data_dir) as client:
        revoked = client.revoke_device(device_id)
    click.echo(f"device {device_id} revoked at {revoked.get('revoked_at', '')}")


@admin.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kind", default="", help="inspector, instrument, entity, site or assignment "
              "(JSON lines may name their own).")
@admin_options
def import_(file: Path, kind: str, server: str, admin_token: str, data_dir: Path) -> None:
    """Load reference data from FILE (CSV, or JSON lines); exit 1 if any row was rejected."""
    from field_sync_cli.admin_command import run_import

    finish(run_import(file, kind, server, resolve_admin_token(admin_token, data_dir)))


@admin.command("create-user")
@click.argument("name")
@click.option("--full-name", required=True, help="The person's full name.")
@click.option("--role", type=click.Choice(["administrator", "supervisor"]),
              default="administrator", show_default=True, help="What the account may do.")
@click.option("--region", "regions", multiple=True,
              help="A supervisor's region (repeat it); none: every region.")
@option("--public-url", env="FIELD_SYNC_PUBLIC_URL", default="",
        show_default="http://127.0.0.1:8470", help="The registry's address, for the link.")
@database_options
def create_user(name: str, full_name: str, role: str, regions: tuple[str, ...],
                public_url: str, db: str, data_dir: Path) -> None:
    """Make console account NAME and print its invitation link (the first administrator's
    too): whoever opens it sets the password and the one-time-code app."""
    from field_sync_cli.user_command import run_create_user

    finish(run_create_user(name, full_name, role, regions, data_dir, db, public_url))


admin.add_command(rotate_registry_key)
