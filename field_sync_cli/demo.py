"""``field-sync demo``: two tablets fill one protocol offline, sync, and agree with the registry.

The walk-through an agency engineer runs first: it enrolls two inspectors' tablets, has both edit
the same protocol with no network, including different fields of the same row, syncs them, and
checks that both tablets and the registry hold the same merged protocol with every edit kept.
Exit status 0 only when they do.
"""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pyotp

from client_lib import HttpTransport, Tablet
from field_sync import content_hash
from field_sync.qr import qr_png, qr_svg, qr_version
from field_sync_cli.admin_client import AdminClient
from field_sync_cli.local_server import LocalServer
from schemas import Assignment, Protocol
from schemas.signing import LocationFix, TotpConfirmation

__all__ = ["run_demo"]

TEMPLATE = "metrology_supervision@1"
PASSPHRASE = b"demo tablet passphrase"


def _say(text: str) -> None:
    print(text, flush=True)


@contextmanager
def _registry(server_url: str | None, admin_token: str | None, folder: Path) -> Iterator[
        tuple[str, str]]:
    if server_url:
        assert admin_token, "the command resolves the token of a registry it is given"
        yield server_url, admin_token
        return
    token = secrets.token_urlsafe(24)
    with LocalServer(folder / "registry", token) as server:
        _say(f"• registry started on {server.url} (SQLite in {server.data_dir})")
        yield server.url, token


def _enroll(admin: AdminClient, url: str, folder: Path, suffix: str, inspector: str,
            name: str) -> tuple[Tablet, pyotp.TOTP]:
    """An enrolled tablet, and the inspector's authenticator app provisioned from the URI."""
    admin.create_inspector(inspector, name, region="Toshkent")
    attested = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    admin.put_reference("inspector", inspector, {"id": inspector, "full_name": name,
                                                 "region": "Toshkent", "attested_until": attested})
    tablet = Tablet(folder / f"tablet-{inspector}.sqlite", PASSPHRASE)
    enrollment = admin.enrollment(inspector)
    tablet.enroll(enrollment.code, url, device_name=f"tablet {suffix}")
    _say(f"• tablet {suffix} enrolled for {name} (device {tablet.device_id[:8]}…)")
    authenticator = pyotp.parse_uri(enrollment.totp_uri)
    assert isinstance(authenticator, pyotp.TOTP)
    return tablet, authenticator


def _show(protocol: Protocol) -> None:
    for name, value in sorted(protocol.fields.items()):
        _say(f"    {name:<16} {value}")
    for collection, rows in sorted(protocol.collections.items()):
        for row_id, row in sorted(rows.items()):
            values = ", ".join(f"{key}={value}" for key, value in sorted(row.items())
                               if key != "instrument")
            _say(f"    {collection}/{row_id[:8]}  {values}")


def _expected(protocol: Protocol, instrument: str, measurement: str) -> list[tuple[str, Any]]:
    row = protocol.collections.get("instruments", {}).get(instrument, {})
    measured = protocol.collections.get("measurements", {}).get(measurement, {})
    return [
        ("A's conclusion", protocol.fields.get("conclusion") == "non_compliant"),
        ("B's findings", "Plomba" in str(protocol.fields.get("findings", ""))),
        ("A's serial on the shared row", row.get("serial") == "SN-448201"),
        ("B's verification date on the same row", row.get("verified_until") == "2026-03-01"),
        ("B's measurement row", measured.get("indication") == "20.030"),
        ("its computed error and verdict", (measured.get("error"), measured.get("pass"))
         == ("0.030", False)),
    ]


def _walk(url: str, token: str, folder: Path) -> bool:
    admin = AdminClient(url, token)
    suffix = secrets.token_hex(3)
    a, authenticator = _enroll(admin, url, folder, "A", f"insp-a-{suffix}", "Inspector A")
    b, _ = _enroll(admin, url, folder, "B", f"insp-b-{suffix}", "Inspector B")
    assignment = f"inspection-{suffix}"
    admin.put_assignment(Assignment(assignment, "Fuel station no. 7, scales and dispensers",
                                    (f"insp-a-{suffix}", f"insp-b-{suffix}")))
    a.sync(), b.sync()

    protocol_id = a.create_protocol(TEMPLATE, assignment, {
        "number": f"TR-2026-{suffix.upper()}", "entity_tin": "301245678",
        "entity_name": "Toshkent un kombinati", "site_address": "Toshkent, Chilonzor 7",
        "started_at": "2026-11-20T10:00:00+05:00", "lead_inspector": f"insp-a-{suffix}"})
    with a.edit(protocol_id) as edit:
        instrument = edit.add_row("instruments", {"type": "scale", "serial": "SN-000000"})
    a.sync(), b.sync()
    _say(f"• tablet A started protocol {protocol_id[:8]}…; both tablets have it")

    _say("• both tablets go offline and edit the same protocol:")
    with a.edit(protocol_id) as edit:
        edit.set("conclusion", "non_compliant")
        edit.update_row("instruments", instrument, {"serial": "SN-448201"})
    with b.edit(protocol_id) as edit:
        edit.set("findings", "Plomba buzilgan")
        edit.update_row("instruments", instrument, {"verified_until": "2026-03-01"})
        measurement = edit.add_row("measurements", {
            "instrument": instrument, "nominal": "20.000", "indication": "20.030",
            "mpe": "0.020", "unit": "kg"})
    _say("    A: conclusion, and the instrument's serial")
    _say("    B: findings, the same instrument's verification date, a measurement row")
    offline = Tablet(b.store.path, PASSPHRASE, transport=HttpTransport("http://127.0.0.1:9"))
    report = offline.sync()
    offline.close()
    _say(f"• B tries to sync with no network: offline={report.offline}, "
         f"{b.pending()} saved changes kept")

    for tablet in (a, b, a):
        tablet.sync()
    _say("• network back: A, B and A again sync")

    record = admin.protocol(protocol_id)
    hashes = {"tablet A": a.content_hash(protocol_id), "tablet B": b.content_hash(protocol_id),
              "registry": content_hash(record.protocol)}
    _say("• merged protocol, as the registry holds it:")
    _show(record.protocol)
    checks = _expected(record.protocol, instrument, measurement)
    same = len(set(hashes.values())) == 1 and record.content_hash == hashes["registry"]
    for label, digest in hashes.items():
        _say(f"    {label:<9} sha256 {digest}")
    for label, ok in checks:
        _say(f"  {'✓' if ok else '✗'} {label} kept")
    _say(f"  {'✓' if same else '✗'} tablets and registry hold the same protocol")
    sealed = _seal(a, b, authenticator, protocol_id, url, folder)
    printed = sealed and _print(a, protocol_id, url, token, folder)
    for tablet in (a, b):
        tablet.close()
    admin.close()
    return same and all(ok for _, ok in checks) and sealed and printed


def _print(a: Tablet, protocol_id: str, url: str, token: str, folder: Path) -> bool:
    """The printed protocol, made on tablet A offline, beside the seal; the registry's copy
    must be the same bytes."""
    started = time.perf_counter()
    pdf = a.render_pdf(protocol_id, "uz-Latn")
    rendering_ms = (time.perf_counter() - started) * 1000
    (folder / "protocol.pdf").write_bytes(pdf)
    served = httpx.get(f"{url}/v1/protocols/{protocol_id}/document.pdf",
                       params={"lang": "uz-Latn"}, timeout=60,
                       headers={"Authorization": f"Bearer {token}"})
    same = served.status_code == 200 and served.content == pdf
    _say(f"• printed protocol: protocol.pdf, {len(pdf) // 1024} KB, made on tablet A in "
         f"{rendering_ms:.0f} ms")
    _say(f"  {'✓' if same else '✗'} the registry's copy is the same bytes")
    return same


def _seal(a: Tablet, b: Tablet, authenticator: pyotp.TOTP, protocol_id: str, url: str,
          folder: Path) -> bool:
    """A signs with the code from the authenticator app; the registry countersigns; the QR is
    written out and verified offline, and once more with one character changed."""
    started = time.perf_counter()
    freeze = a.sign(protocol_id, TotpConfirmation(authenticator.now()), LocationFix(
        lat="41.311081", lon="69.240562", accuracy_m="8", at_ms=time.time_ns() // 1_000_000))
    signing_ms = (time.perf_counter() - started) * 1000
    a.sync(), b.sync()
    receipt = a.receipt(protocol_id)
    assert freeze.signed is not None
    seal = freeze.signed.seal
    _say(f"• A signed with a one-time code ({signing_ms:.1f} ms on the tablet); registry "
         f"number {receipt.registry_number if receipt else '(none)'}")
    (folder / "seal.png").write_bytes(qr_png(seal))
    (folder / "seal.svg").write_bytes(qr_svg(seal))
    (folder / "seal.txt").write_text(seal + "\n")
    trust = httpx.get(f"{url}/v1/trust-list", headers={"Accept": "application/json"}, timeout=30)
    (folder / "trust-list.json").write_bytes(msgspec.json.format(trust.content, indent=2))
    key = httpx.get(f"{url}/v1/registry-key", headers={"Accept": "application/json"}, timeout=30)
    (folder / "registry-key.pem").write_text(key.json()["public_key"])
    _say(f"• seal: {len(seal)} characters, QR version {qr_version(seal)} at level Q; wrote "
         f"seal.png, seal.svg, trust-list.json and registry-key.pem to {folder}")
    # Offline, as the tablet checks seals: against its cached list and the key it pinned.
    verdict = a.verify(seal)
    tampered = seal[:-5] + ("A" if seal[-5] != "A" else "B") + seal[-4:]
    altered = a.verify(tampered)
    _say(f"  {'✓' if verdict.genuine else '✗'} offline verification: {verdict.verdict}")
    _say(f"  {'✓' if altered.verdict == 'altered' else '✗'} one character changed: "
         f"{altered.verdict}")
    return receipt is not None and verdict.genuine and altered.verdict == "altered"


def run_demo(server_url: str | None = None, admin_token: str | None = None,
             out: str | None = None) -> int:
    """Run the walk-through; 0 when every edit was kept and all replicas agree."""
    with ExitStack() as stack:
        folder = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        url, token = stack.enter_context(_registry(server_url, admin_token, folder))
        ok = _walk(url, token, folder)
    _say("demo passed: every edit kept, all replicas equal" if ok else "demo FAILED")
    return 0 if ok else 1
