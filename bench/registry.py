"""The registry filled with 1,000,000 protocols: lookup by number and query by entity (STIR),
p50/p99; the console's registry page of 50 rendered (``console_pages``), p95; export
throughput.

The real tables are filled with SQLAlchemy Core bulk inserts. Every protocol's content is one of
a handful of real states (made with the project's merge, forms, signing and seal code, signed
with a throwaway device key) whose stored blobs are reused under varied columns, so the registry
decodes and materializes each one as it would a real protocol; registered ones have receipts.
Then a `field-sync serve` process runs on that database and one keep-alive HTTP client asks
what a supervisor asks, with the administrator's token. The lookup by number is also timed in
process, and ``/health`` over HTTP, to show how much of a lookup is the database and how much
is HTTP.

Prints one JSON line and a table. Latencies are the medians, over rounds, of each round's p50
and p99 (the machine is shared); never pass/fail.

    ./dev bench registry [--protocols N] [--lookups N] [--pages N] [--rounds N]
                         [--db sqlite|postgresql] [--db-url URL] [--data-dir DIR]
                         [--export jsonl|csv|none]

``--data-dir`` keeps the database (and the server's keys) there; run again with it and the
filled database is reused as it is, after the migrations it lacks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
from console_pages import console_kinds, region_of
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, Table, func, insert, select, update
from sqlmodel import SQLModel, col
from tqdm import tqdm

from field_sync import DocumentState, canonical_bytes, content_hash, form_of, pack
from field_sync.freeze import Freeze
from field_sync.paths import FREEZE
from field_sync.seal import claim_for, key_id, make_seal, seal_hash
from field_sync.signing import b64url, sign_canonical
from field_sync_cli.local_server import LocalServer
from schemas import Op, Template, builtin_templates
from schemas.signing import LocationFix, Receipt, SignedProtocol, SigningStatement, TotpConfirmation
from server.authority.keys import RegistryKeys
from server.data.database import Database
from server.data.queries import Filters, query
from server.data.tables import ChangeCounter
from server.signing.signatures import _registry_number
from server.sync.documents import encode_registers, encode_vector

TEMPLATE = "metrology_supervision@1"
CHUNK = 10_000
ENTITIES = 50_000
INSPECTORS = 600
YEARS = 2
# Of every 1,000 protocols: what a registry a few years old holds.
STATUS_MIX = (("registered", 955), ("superseded", 15), ("annulled", 10), ("quarantined", 10),
              ("draft", 10))
REASONS = ("attestation: the signer's attestation was not valid on the signing day\n"
           "geofence: the signing fix is 1,830 m from the site, the limit is 350 m")


@dataclass(frozen=True)
class Content:
    """The stored form of one real protocol state, and what its receipt says of it."""

    registers: bytes
    vector: bytes
    latest_hlc: int
    content_hash: str
    seal: str
    kid: str


def _tables() -> tuple[Table, Table, Table]:
    tables = SQLModel.metadata.tables
    return tables["protocol"], tables["receipt"], tables["annulment"]


# -- a handful of real protocol states ----------------------------------------------------------


def _state(template: Template, index: int, signer: ec.EllipticCurvePrivateKey | None,
           signed_at_ms: int) -> tuple[DocumentState, str, str]:
    """A protocol made op by op (each op checked by the template's form), signed and sealed
    when ``signer`` is given; the state, its content hash and its seal."""
    form = form_of(template)
    doc = str(uuid.UUID(int=index + 1, version=4))
    device, inspector = "device-template", "insp-0001"
    state = DocumentState(doc)
    seq = 0
    hlc_ms = signed_at_ms - 3_600_000

    def write(path: str, value: Any) -> None:
        nonlocal seq, hlc_ms
        seq += 1
        hlc_ms += 1_000
        op = Op(device, seq, doc, path, value, pack(hlc_ms, 0))
        form.check_op(op)
        state.apply(op, changed=1)

    def row_id() -> str:
        return str(uuid.uuid4())

    compliant = index % 3 != 0
    write("", {"_template": template.ref, "_assignment": "asg-template"})
    for name, value in (
        ("number", f"TR-2026-{index + 1:07d}"), ("started_at", "2026-03-14T10:00:00+05:00"),
        ("entity_tin", "301245678"), ("entity_name", "Toshkent un kombinati MChJ"),
        ("site_name", "Un tortish sexi"), ("site_address", "Toshkent, Chilonzor tumani, 7-kvartal"),
        ("basis", "Buyruq 12-n, 2026-03-01"), ("lead_inspector", inspector),
        ("findings", "Tarozilar tekshirildi; " * (4 + index)),
        ("conclusion", "compliant" if compliant else "non_compliant"),
        ("representative_name", "Karimov Aziz"), ("representative_position", "Bosh muhandis"),
        ("representative_response", "acknowledged"),
    ):
        write(name, value)
    if not compliant:
        write("prescription", "Noto'g'ri ko'rsatayotgan tarozini ishlatishdan chiqarish.")
    write(f"team/{row_id()}", {"inspector_id": inspector, "role": "lead"})
    write(f"team/{row_id()}", {"inspector_id": "insp-0002", "role": "member"})
    write(f"reference_instruments/{row_id()}", {
        "instrument_id": "std-0001", "type": "weights M1", "serial": "W-20-118",
        "verified_until": "2027-01-31"})
    for number in range(1 + index % 3):
        instrument = row_id()
        write(f"instruments/{instrument}", {
            "type": "scale", "serial": f"SN-{448201 + number}", "manufacturer": "CAS",
            "verification_certificate": f"QV-2025-{9100 + number}",
            "verified_until": "2026-12-31", "seal_intact": True})
        for step in range(1 + index // 3 % 3):
            write(f"measurements/{row_id()}", {
                "instrument": instrument, "nominal": f"{10 * (step + 1)}.000",
                "indication": f"{10 * (step + 1)}.0{1 + number}0", "mpe": "0.020", "unit": "kg"})
    protocol = state.materialize(template)
    digest = content_hash(protocol)
    if signer is None:
        return state, digest, ""
    assert not form.violations(protocol), form.violations(protocol)
    kid = key_id(signer.public_key())

    def sign(data: bytes) -> bytes:
        return signer.sign(data, ec.ECDSA(hashes.SHA256()))

    statement = SigningStatement(
        protocol_id=doc, content_hash=digest, vector=dict(state.vector), signer=inspector,
        device_id=device, kid=kid.hex(), signed_at_ms=signed_at_ms,
        confirmation=TotpConfirmation("492039"),
        location=LocationFix("41.311081", "69.240562", "8", signed_at_ms - 20_000))
    seal = make_seal(claim_for(protocol, template, signed_at_ms), sign, kid,
                     "https://verify.tris.gov.uz")
    signed = SignedProtocol(statement, b64url(sign(canonical_bytes(statement))), seal)
    write(FREEZE, msgspec.to_builtins(Freeze(dict(state.vector), digest, signed)))
    return state, digest, seal


def _contents(signed: int, drafts: int) -> tuple[list[Content], list[Content]]:
    """Real signed states and real drafts, in their stored form."""
    template = next(t for t in builtin_templates() if t.ref == TEMPLATE)
    device_key = ec.generate_private_key(ec.SECP256R1())
    kid = key_id(device_key.public_key()).hex()
    signed_at = int(dt.datetime(2026, 3, 14, 7, tzinfo=dt.UTC).timestamp() * 1000)
    made: tuple[list[Content], list[Content]] = ([], [])
    for index in range(signed + drafts):
        is_signed = index < signed
        state, digest, seal = _state(template, index, device_key if is_signed else None,
                                     signed_at)
        made[0 if is_signed else 1].append(Content(
            encode_registers(state), encode_vector(state),
            max(register.hlc for register in state.registers.values()), digest, seal, kid))
    return made


# -- filling -------------------------------------------------------------------------------------


@dataclass
class Filler:
    """Row by row, the columns of a registry a few years old: protocols in the order they were
    signed, numbered per year, with random ids, entities (a few large, most small), sites,
    inspectors and assignments."""

    total: int
    rng: random.Random
    signed: list[Content]
    drafts: list[Content]
    receipt_signature: str
    end_ms: int

    def __post_init__(self) -> None:
        self.start_ms = self.end_ms - YEARS * 365 * 86_400_000
        self.step_ms = max((self.end_ms - self.start_ms) // max(self.total, 1), 2)
        self.numbers: dict[int, int] = {}
        self.registry_numbers: dict[int, int] = {}
        self.statuses = [status for status, share in STATUS_MIX for _ in range(share)]

    @staticmethod
    def _year(ms: int) -> int:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).year

    def chunk(self, first: int, count: int) -> tuple[list[dict[str, Any]], ...]:
        """Protocol, receipt and annulment rows for protocols ``first`` to ``first + count``."""
        rng = self.rng
        ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count + 1)]
        protocols, receipts, annulments = [], [], []
        for offset in range(count):
            index = first + offset
            status = rng.choice(self.statuses)
            signed_at = self.start_ms + index * self.step_ms + rng.randrange(self.step_ms // 2)
            registered_at = signed_at + rng.randrange(self.step_ms // 2)
            year = self._year(signed_at)
            self.numbers[year] = self.numbers.get(year, 0) + 1
            entity = int(ENTITIES * rng.random() ** 2)  # a few entities hold most protocols
            inspector = f"insp-{rng.randrange(INSPECTORS):04d}"
            content = rng.choice(self.drafts if status == "draft" else self.signed)
            registry_number = ""
            if status in ("registered", "superseded", "annulled"):
                reg_year = self._year(registered_at)
                self.registry_numbers[reg_year] = self.registry_numbers.get(reg_year, 0) + 1
                registry_number = f"{reg_year}-{self.registry_numbers[reg_year]:08d}"
                receipts.append({
                    "protocol_id": ids[offset], "registry_number": registry_number,
                    "content_hash": content.content_hash,
                    # A seal per protocol: the verification index is as selective as it is
                    # in a real registry.
                    "seal_hash": hashlib.sha256(ids[offset].encode()).hexdigest(),
                    "seal": content.seal, "kid": content.kid, "registered_at_ms": registered_at,
                    "signature": self.receipt_signature, "changed": index + 2})
            if status == "annulled":
                annulments.append({
                    "protocol_id": ids[offset], "supervisor_id": "sup-0001",
                    "reason": "issued at the wrong site", "at_ms": registered_at + 86_400_000,
                    "signature": self.receipt_signature})
            protocols.append({
                "id": ids[offset], "template_ref": TEMPLATE,
                "assignment_id": f"asg-{index // 4:07d}",
                "registers": content.registers, "vector": content.vector,
                "latest_hlc": content.latest_hlc, "changed": index + 2,
                "created_by": f"device-{inspector}", "status": status,
                "reasons": REASONS if status == "quarantined" else "",
                "number": f"TR-{year}-{self.numbers[year]:07d}",
                "entity_tin": f"{300_000_000 + entity:09d}", "inspector_id": inspector,
                "site_id": f"site-{entity:05d}-{rng.randrange(3)}", "region": region_of(entity),
                "signed_at_ms": 0 if status == "draft" else signed_at,
                "registry_number": registry_number,
                "superseded_by": ids[offset + 1] if status == "superseded" else ""})
        return protocols, receipts, annulments


def _fill(database: Database, total: int, data_dir: Path, seed: int) -> float:
    """Fill the registry; seconds taken."""
    started = time.perf_counter()
    signed, drafts = _contents(signed=8, drafts=2)
    registry_key = RegistryKeys.load(data_dir).signing  # the key the server will load
    # One real receipt signature, stored on every receipt: nothing here checks receipts.
    receipt_signature = sign_canonical(registry_key, Receipt(
        "00000000-0000-4000-8000-000000000001", signed[0].content_hash,
        seal_hash(signed[0].seal), 0, "2026-00000001", ""))
    filler = Filler(total, random.Random(seed), signed, drafts, receipt_signature,
                    int(time.time() * 1000))
    protocol, receipt, annulment = _tables()
    with tqdm(total=total, unit=" protocols", file=sys.stderr, desc="fill") as progress:
        for first in range(0, total, CHUNK):
            count = min(CHUNK, total - first)
            protocols, receipts, annulments = filler.chunk(first, count)
            # Through ``write`` as the registry writes: its commits wake the log's checkpoints.
            with database.write() as session:
                connection = session.connection()
                if database.is_sqlite:
                    # The indexes take keys in random order; a bigger page cache keeps them
                    # in memory.
                    connection.exec_driver_sql("PRAGMA cache_size=-524288")
                connection.execute(insert(protocol), protocols)
                connection.execute(insert(receipt), receipts)
                if annulments:
                    connection.execute(insert(annulment), annulments)
            progress.update(count)
    with database.write() as session:
        session.execute(update(ChangeCounter).where(col(ChangeCounter.id) == 1)
                           .values(value=total + 1))
    return time.perf_counter() - started


# -- measuring -----------------------------------------------------------------------------------


def _times_ms(work: Callable[[Any], object], items: list[Any]) -> list[float]:
    times = []
    for item in items:
        began = time.perf_counter()
        work(item)
        times.append((time.perf_counter() - began) * 1000)
    return times


def _p(times: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99, ms."""
    centiles = statistics.quantiles(times, n=100, method="inclusive")
    return statistics.median(times), centiles[94], centiles[98]


Kinds = dict[str, tuple[Callable[[Any], object], list[Any]]]
"""Each kind of lookup by name: the call that makes one, and what to look up."""


def _in_rounds(kinds: Kinds, rounds: int) -> dict[str, tuple[float, float, float]]:
    """p50, p95 and p99 of each kind of request: the medians over ``rounds`` rounds, each kind
    taking its turn in every round, so a burst of other work on the machine touches one round
    of every kind rather than all of one kind."""
    per_round: dict[str, list[tuple[float, float, float]]] = {name: [] for name in kinds}
    for turn in range(rounds):
        for name, (work, items) in kinds.items():
            per_round[name].append(_p(_times_ms(work, items[turn::rounds])))
    return {name: tuple(round(statistics.median(centile[at] for centile in figures), 3)
                        for at in range(3))  # type: ignore[misc]
            for name, figures in per_round.items()}


class Keys:
    """Random existing numbers, entities and ids, to ask for, each asked once. Drawn from the
    indexes alone, so the rows asked for are not read, and so not cached, before they are
    measured."""

    def __init__(self, database: Database, size: int, seed: int) -> None:
        rng = random.Random(seed)
        protocol = _tables()[0]
        this_year = dt.datetime.now(dt.UTC).year
        with database.reader.connect() as connection:
            held = connection.execute(select(func.count()).select_from(protocol)).scalar_one()
            per_year = held // YEARS + 1

            def draw(column: Any, start: Callable[[], str]) -> list[str]:
                found: set[str] = set()
                for _ in range(20 * size):  # a small registry may hold fewer distinct keys
                    if len(found) >= size:
                        break
                    value = connection.execute(select(column).where(column >= start())
                                               .order_by(column).limit(1)).scalar()
                    if value is not None:
                        found.add(value)
                drawn = sorted(found)
                rng.shuffle(drawn)
                return drawn

            self.numbers = draw(protocol.c.number, lambda: (
                f"TR-{this_year - rng.randrange(YEARS + 1)}-{rng.randrange(per_year):07d}"))
            # An entity as likely as its share of the protocols, as the fill draws them.
            self.entities = draw(protocol.c.entity_tin, lambda: (
                f"{300_000_000 + int(ENTITIES * rng.random() ** 2):09d}"))
            self.ids = draw(protocol.c.id,
                            lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)))


def _in_process(database: Database, connection: Connection, numbers: list[str]) -> Kinds:
    """The lookup by number without HTTP: bare SQL, and the route's own query (each on
    numbers of its own, so neither finds the other's rows cached); and drawing the next
    registry number, as registering a protocol does."""
    protocol = _tables()[0]

    def bare(number: str) -> None:
        rows = connection.execute(select(protocol).where(protocol.c.number == number))
        assert len(rows.all()) == 1
        connection.rollback()  # one read transaction per lookup, as a request has

    def routed(number: str) -> None:
        with database.read() as session:
            assert len(query(session, Filters(number=number), "", 100).protocols) == 1

    def draw(_: object) -> None:
        with database.read() as session:
            _registry_number(session, int(time.time() * 1000))

    return {"db_number_sql": (bare, numbers[0::2]), "db_number_query": (routed, numbers[1::2]),
            "next_registry_number": (draw, list(range(len(numbers) // 4)))}


def _over_http(client: httpx.Client, keys: Keys, rows_per_entity: list[int]) -> Kinds:
    """What a supervisor asks, and ``/health`` (one ``SELECT 1``): the floor of any request."""

    def health(_: object) -> None:
        assert client.get("/health").status_code == 200

    def by_number(number: str) -> None:
        response = client.get("/v1/registry/protocols", params={"number": number})
        assert response.status_code == 200, response.text
        assert [p["number"] for p in response.json()["protocols"]] == [number]

    def by_entity(entity: str) -> None:
        response = client.get("/v1/registry/protocols", params={"entity_tin": entity})
        assert response.status_code == 200, response.text
        rows_per_entity.append(len(response.json()["protocols"]))

    def by_id(protocol_id: str) -> None:
        response = client.get(f"/v1/protocols/{protocol_id}")
        assert response.status_code == 200, response.text
        assert response.json()["protocol"]["id"] == protocol_id

    return {"http_health": (health, keys.numbers), "http_number": (by_number, keys.numbers),
            "http_entity": (by_entity, keys.entities), "http_protocol": (by_id, keys.ids)}


def _lookups(database: Database, client: httpx.Client, args: argparse.Namespace) -> dict[str, Any]:
    """Every kind of lookup, in the same rounds, so that each meets the same page cache and
    the same load on the machine; warmed first on other keys."""
    seed = args.keys_seed
    keys, warm = Keys(database, args.lookups, seed), Keys(database, 100, seed + 1)
    numbers = Keys(database, 2 * args.lookups, seed + 2).numbers
    rows_per_entity: list[int] = []
    span = _signed_span(database)
    with database.reader.connect() as connection:
        _in_rounds({**_in_process(database, connection, warm.numbers),
                    **_over_http(client, warm, rows_per_entity),
                    **console_kinds(database, args.data_dir_path, client, warm.entities,
                                    span, min(args.pages, 50), seed + 3)}, 1)
        rows_per_entity.clear()
        measured = _in_rounds({**_in_process(database, connection, numbers),
                               **_over_http(client, keys, rows_per_entity),
                               **console_kinds(database, args.data_dir_path, client,
                                               keys.entities, span, args.pages, seed + 4)},
                              args.rounds)
    figures: dict[str, Any] = {f"{name}_ms": value for name, value in measured.items()}
    figures["entity_rows_mean"] = round(statistics.fmean(rows_per_entity), 1)
    return figures


def _signed_span(database: Database) -> tuple[int, int]:
    """The first and the last signing time in the registry (ms)."""
    protocol = _tables()[0]
    with database.reader.connect() as connection:
        first, last = connection.execute(select(
            func.min(protocol.c.signed_at_ms), func.max(protocol.c.signed_at_ms)).where(
            protocol.c.signed_at_ms > 0)).one()
    return int(first or 1), int(last or 2) + 1


def _export(client: httpx.Client, fmt: str) -> dict[str, Any]:
    """Stream the whole registry as the export command does; count lines and bytes."""
    lines = size = 0
    began = time.perf_counter()
    with client.stream("GET", "/v1/registry/export", params={"format": fmt},
                       timeout=None) as response:
        assert response.status_code == 200
        total = int(response.headers["x-total-count"])
        head = b""
        with tqdm(total=total, unit=" protocols", file=sys.stderr, desc=f"export {fmt}") as bar:
            for chunk in response.iter_bytes():
                if b"\n" not in head:
                    head += chunk
                found = chunk.count(b"\n")
                lines, size = lines + found, size + len(chunk)
                bar.update(found)
    seconds = time.perf_counter() - began
    if fmt == "jsonl":
        line = json.loads(head.split(b"\n", 1)[0])
        assert line["protocol"]["fields"]["number"] and line["summary"]["number"]
    else:
        lines -= 1  # the header
    assert lines == total, (lines, total)
    return {"export": fmt, "export_protocols": lines, "export_s": round(seconds, 1),
            "export_protocols_per_s": round(lines / seconds),
            "export_mb_per_s": round(size / seconds / 1e6, 1),
            "export_bytes_per_protocol": round(size / max(lines, 1))}


def _database_url(args: argparse.Namespace, data_dir: Path) -> str:
    if args.db == "sqlite":
        return f"sqlite:///{data_dir / 'field-sync.db'}"
    url: str = args.db_url or os.environ.get("FIELD_SYNC_BENCH_PG", "")
    if not url:
        raise SystemExit("--db postgresql needs --db-url or FIELD_SYNC_BENCH_PG")
    return url


def _cached_mb(path: Path) -> int | None:
    """How much of the SQLite file the kernel holds in its page cache (lookups that miss it
    read the disk), if ``fincore`` is there to say."""
    fincore = shutil.which("fincore")
    if fincore is None or not path.exists():
        return None
    answer = subprocess.run([fincore, "--bytes", "--noheadings", "--output", "RES", str(path)],
                            capture_output=True, text=True, check=False)
    return round(int(answer.stdout.strip()) / 1e6) if answer.returncode == 0 else None


@contextmanager
def _data_dir(folder: str | None) -> Iterator[Path]:
    """``folder``, kept; or a temporary directory, removed afterwards."""
    if folder:
        yield Path(folder)
        return
    made = Path(tempfile.mkdtemp(prefix="field-sync-bench-registry-"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocols", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--db-url", default="", help="PostgreSQL URL (else $FIELD_SYNC_BENCH_PG)")
    parser.add_argument("--data-dir", help="keep (and reuse) the database here")
    parser.add_argument("--export", choices=("jsonl", "csv", "none"), default="jsonl")
    parser.add_argument("--pages", type=int, default=200,
                        help="console registry pages of each kind to render")
    parser.add_argument("--rounds", type=int, default=5,
                        help="lookups are split into rounds; p50 and p99 are their medians")
    parser.add_argument("--seed", type=int, default=7, help="what the fill draws")
    parser.add_argument("--keys-seed", type=int, default=secrets.randbelow(2**31),
                        help="what is looked up (by default new keys each run: a kept "
                             "database would find the last run's keys in its page cache)")
    args = parser.parse_args()

    with _data_dir(args.data_dir) as data_dir:
        args.data_dir_path = data_dir
        url = _database_url(args, data_dir)
        database = Database(url)
        began = time.perf_counter()
        database.create_schema()  # on a kept database, the migrations it lacks
        upgrade_s = time.perf_counter() - began
        with database.reader.connect() as connection:
            held = connection.execute(select(func.count()).select_from(_tables()[0])).scalar_one()
        figures: dict[str, Any] = {"db": args.db, "protocols": held, "keys_seed": args.keys_seed}
        if held == 0:
            seconds = _fill(database, args.protocols, data_dir, args.seed)
            figures.update(protocols=args.protocols, fill_s=round(seconds, 1),
                           fill_rows_per_s=round(args.protocols / seconds))
        else:
            print(f"reusing {held:,} protocols in {url}", file=sys.stderr)
            figures["schema_upgrade_s"] = round(upgrade_s, 1)
        if database.is_sqlite:
            files = data_dir.glob("field-sync.db*")
            figures["db_mb"] = round(sum(path.stat().st_size for path in files) / 1e6)
            figures["db_cached_mb_before"] = _cached_mb(data_dir / "field-sync.db")
        figures["load_before"] = round(os.getloadavg()[0], 1)
        token = secrets.token_urlsafe(24)
        server = LocalServer(data_dir, token, db_url=url).start(timeout_s=120)
        try:
            with httpx.Client(base_url=server.url, timeout=60, headers={
                    "Authorization": f"Bearer {token}", "Accept": "application/json"}) as client:
                figures.update(_lookups(database, client, args))
                figures["load_after"] = round(os.getloadavg()[0], 1)
                if database.is_sqlite:
                    figures["db_cached_mb_after"] = _cached_mb(data_dir / "field-sync.db")
                if args.export != "none":
                    figures.update(_export(client, args.export))
        finally:
            server.stop()
            database.dispose()
        _report(figures)


def _report(figures: dict[str, Any]) -> None:
    flat: dict[str, Any] = {}
    for name, value in figures.items():
        if isinstance(value, tuple):
            stem = name.removesuffix("_ms")
            flat[f"{stem}_p50_ms"], flat[f"{stem}_p95_ms"], flat[f"{stem}_p99_ms"] = value
        else:
            flat[name] = value
    print(json.dumps(flat))
    labels = {
        "db_number_sql": "lookup by number, bare SQL (in process)",
        "db_number_query": "lookup by number, the route's query (in process)",
        "next_registry_number": "draw the next registry number (in process)",
        "http_health": "GET /health (SELECT 1), HTTP: the floor",
        "http_number": "lookup by number, HTTP",
        "http_entity": "query by entity (STIR), HTTP, first page",
        "http_protocol": "GET /v1/protocols/{id}, HTTP",
        "console_first_page": "console registry, first page of 50",
        "console_keyset_page": "console registry, a page of 50 anywhere (keyset)",
        "console_region_page": "console registry, a page of 50, one region",
        "console_quarantined": "console registry, quarantined, a page anywhere",
        "console_entity": "console registry, one entity's protocols",
    }
    print(f"{'figure':<52}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}   target")
    for name, label in labels.items():
        if f"{name}_ms" in figures:
            p50, p95, p99 = figures[f"{name}_ms"]
            target = "p99 < 5 ms" if name == "http_number" else \
                "p95 < 200 ms" if name.startswith("console") else ""
            print(f"{label:<52}{p50:>10}{p95:>10}{p99:>10}   {target}")
    print()
    for name in ("db", "protocols", "db_mb", "db_cached_mb_before", "db_cached_mb_after",
                 "fill_s", "fill_rows_per_s", "schema_upgrade_s", "load_before", "load_after",
                 "entity_rows_mean",
                 "export", "export_s", "export_protocols_per_s", "export_mb_per_s",
                 "export_bytes_per_protocol"):
        if flat.get(name) is not None:
            print(f"{name:<52}{flat[name]:>10}")


if __name__ == "__main__":
    main()
