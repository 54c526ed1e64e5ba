"""The real registry without HTTP: a client_lib ``Transport`` that calls the server's own logic.

``InProcessTransport`` answers a tablet's enroll, push, pull, key rotation and trust-list calls
with the registry's code itself (``routes.enrollment._enroll``, ``ingest.ingest``,
``changes.pull`` inside ``Database.read()``, ``routes.keys._rotate``, ``trust.trust_list``) on a
real SQLite ``server.data.database.Database``, authenticating the bearer token with
``server.api.auth.require_device``. Only Litestar's request plumbing is left out; every message is
still encoded and decoded as MessagePack on the way, so nothing is shared between the tablet and
the registry that the wire would not carry.

The registry's clock is a parameter, so a simulation can run on a clock of its own: ingest's
``now_ms``, every ``server_time_ms`` a tablet learns its offset from, and the registry time it
is told to sign with. (``_enroll`` reads the real clock for these; the transport replaces them
with a reading of its clock, which is what a registry running on that clock would have said.
Key validity times that enrollment and rotation record still come from the real clock.)

Signatures: with ``signed_freezes`` (as ``serve`` always runs) a freeze must carry a valid
signature, confirmation and seal (``Tablet.sign``); without it the transport is an embedded
registry that takes an unsigned freeze (``Tablet.freeze``), checked against the state it names
only (see ``server.sync.ingest.ingest``).

Fault injection, all of it behaviour a real network shows:

- ``LostResponse``: the registry commits the push, then the answer is lost (``Offline``).
- ``Duplicated``: every push is delivered twice (a retry after a timeout that was not one);
  the tablet hears the second answer.
- ``Partitioned``: nothing is delivered (``Offline``).
- ``deliver_out_of_order``: the later half of a tablet's pending ops reaches the registry before
  the earlier half, as when one request overtakes another.

``Link`` is the tablet's end of the wire: a test switches it to a fault for a while. The fault
wrappers and ``Link`` pass on every other call, so they follow the ``Transport`` protocol as it
grows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import msgspec
from sqlmodel import select

from client_lib import Offline, RegistryRefused, Tablet, Transport
from field_sync import DocumentState, Register
from schemas import (
    Assignment,
    EnrollRequest,
    EnrollResponse,
    InspectorCreate,
    Op,
    Protocol,
    PulledPage,
    PushRequest,
    PushResponse,
)
from schemas.signing import AuditCheckpoint, TrustList
from server.api.auth import Caller, require_device
from server.api.problems import ProblemError
from server.authority.audit_anchor import current_checkpoint
from server.authority.keys import RegistryKeys
from server.authority.registry_time import tell
from server.authority.trust import trust_list
from server.config import ServerConfig
from server.data.catalog import TemplateCatalog
from server.data.database import Database
from server.data.tables import HeldOpRow, OpLogRow, ProtocolRow
from server.routes.enrollment import _enroll
from server.routes.keys import _rotate
from server.services.inspectors import create_inspector, issue_code, put_assignment
from server.signing.signatures import Signing
from server.sync.changes import Cursor, pull
from server.sync.deltas import Deltas
from server.sync.documents import decode_state
from server.sync.ingest import ingest
from server.sync.oplog import unpack

__all__ = [
    "Duplicated",
    "InProcessRegistry",
    "InProcessTransport",
    "Link",
    "LostResponse",
    "Partitioned",
    "deliver_out_of_order",
    "written",
]

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()


def _system_ms() -> int:
    return time.time_ns() // 1_000_000


def _over_the_wire(message: Any, kind: type[T]) -> T:
    """``message`` as the other side decodes it: MessagePack there and back."""
    return msgspec.msgpack.decode(_encoder.encode(message), type=kind)


@contextmanager
def _as_problem() -> Iterator[None]:
    """The registry's problem details, as ``HttpTransport`` raises them."""
    try:
        yield
    except ProblemError as problem:
        raise RegistryRefused(problem.status_code,
                              {"code": problem.code, "detail": problem.detail}) from problem


def written(registers: dict[str, Register]) -> dict[str, tuple[int, str, int, Any]]:
    """Each register's write: stamp, device, seq and value, not the registry's change number
    (the registry's alone: a tablet keeps whatever came, 0 for the push that created the
    protocol when it came packed as stored)."""
    return {path: (r.hlc, r.actor, r.seq, r.value) for path, r in registers.items()}


class InProcessTransport:
    """A ``client_lib.Transport`` that is the registry's own code on ``database``.

    Args:
        database: the registry's database (its schema already made).
        keys: the registry's keys (they sign the trust list and check signed freezes).
        catalog: the registry's template catalog.
        config: limits (batch size, clock allowance, pull page size) and the public URL.
        clock: the registry's clock in ms since the epoch.
        signed_freezes: check freezes as ``serve`` does (a signature, confirmation and seal are
            required); False for an embedded registry that takes unsigned ones.
    """

    def __init__(self, database: Database, keys: RegistryKeys,
                 catalog: TemplateCatalog | None = None, config: ServerConfig | None = None,
                 clock: Callable[[], int] = _system_ms, signed_freezes: bool = False) -> None:
        self.database = database
        self.keys = keys
        self.catalog = catalog or TemplateCatalog()
        self.config = config or ServerConfig()
        self.clock = clock
        self.signing = Signing(keys, self.config) if signed_freezes else None
        self.deltas = Deltas()
        self.states = True
        """Ask for protocols sent whole as register maps, as ``HttpTransport`` does; False
        asks for them as ops."""
        self.heads = True
        """Send what each protocol sent whole is filed under (``PullResponse.heads``); False
        leaves them out, as a registry of an earlier release does."""
        self.packed = True
        """Ask for protocols sent whole packed, as ``HttpTransport`` does; False asks for the
        flat form, as a tablet of an earlier release does."""

    def _caller(self, token: str) -> Caller:
        request = SimpleNamespace(headers={"authorization": f"Bearer {token}"})
        with _as_problem():
            return require_device(request, self.database)  # type: ignore[arg-type]

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        """``POST /v1/enroll``."""
        with _as_problem():
            answer = _enroll(self.database, self.keys, _over_the_wire(request, EnrollRequest),
                             self.config.public_url)
        now = self.clock()
        answer = msgspec.structs.replace(answer, server_time_ms=now,
                                         registry_time=tell(self.keys, answer.device_id, now))
        return _over_the_wire(answer, EnrollResponse)

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        """``POST /v1/push``."""
        caller = self._caller(token)
        batch = _over_the_wire(batch, PushRequest)
        count = len(batch.ops) + sum(len(item.ops) for item in batch.protocols)
        if count > self.config.max_batch_ops:
            raise RegistryRefused(413, {"code": "batch_too_large", "detail": f"{count} ops"})
        answers = ingest(self.database, self.catalog, caller, batch.ops, self.clock(),
                         self.config.max_clock_ahead_ms, self.signing, batch.protocols)
        now = self.clock()
        return _over_the_wire(PushResponse(results=answers.results, server_time_ms=now,
                                           protocols=answers.protocols,
                                           registry_time=tell(self.keys, caller.device_id, now)),
                              PushResponse)

    def pull(self, token: str, cursor: str) -> PulledPage:
        """``GET /v1/pull?states=true&packed=true`` (or ``false``, see ``states`` and
        ``packed``), in MessagePack."""
        caller = self._caller(token)
        with _as_problem(), self.database.pull_reads.session() as session:
            response = pull(session, self.catalog, caller.inspector_id, Cursor.parse(cursor),
                            self.config.pull_page_protocols, self.clock(), self.states,
                            stored=True, packed=self.packed, deltas=self.deltas)
        if not self.heads:
            response.heads = {}
        response.registry_time = tell(self.keys, caller.device_id, response.server_time_ms)
        return _over_the_wire(response, PulledPage)

    def rotate_key(self, token: str, public_key: str) -> str:
        """``POST /v1/keys``."""
        caller = self._caller(token)
        with _as_problem():
            answer = _rotate(self.database, caller, public_key)
        return str(_over_the_wire(answer, dict[str, Any])["kid"])

    def trust_list(self) -> TrustList:
        """``GET /v1/trust-list``."""
        with self.database.read() as session:
            listed = trust_list(session, self.keys, self.clock(), self.config.public_url)
        return _over_the_wire(listed, TrustList)

    def audit_checkpoint(self) -> AuditCheckpoint:
        """``GET /v1/audit/checkpoint``."""
        checkpoint = current_checkpoint(self.database, self.keys, self.clock(),
                                        self.config.audit_checkpoint_interval_ms)
        return _over_the_wire(checkpoint, AuditCheckpoint)


class _Fault:
    """A transport that passes every call on to ``inner``, except those it changes."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LostResponse(_Fault):
    """Every push is committed by the registry, and its answer never comes back."""

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        self.inner.push(token, batch)
        raise Offline("the connection dropped before the registry's answer arrived")


class Duplicated(_Fault):
    """Every push is delivered twice; the tablet hears the answer to the second delivery."""

    def push(self, token: str, batch: PushRequest) -> PushResponse:
        self.inner.push(token, batch)
        return self.inner.push(token, batch)


class Partitioned(_Fault):
    """No network: no call reaches the registry."""

    def __getattr__(self, name: str) -> Any:
        getattr(self.inner, name)  # only what a transport has

        def unreachable(*_args: Any, **_kwargs: Any) -> Any:
            raise Offline("no network")

        return unreachable


class Link:
    """A tablet's connection, whose behaviour a test switches for a while (``fault``).

    ``Tablet`` keeps the transport it was given; this one passes every call to ``via``.
    """

    def __init__(self, direct: Transport) -> None:
        self.direct = direct
        self.via: Transport = direct

    @contextmanager
    def fault(self, make: Callable[[Transport], Transport] | None) -> Iterator[None]:
        """Use ``make(direct)`` for the calls inside the block (the direct link if None)."""
        self.via = self.direct if make is None else make(self.direct)
        try:
            yield
        finally:
            self.via = self.direct

    def __getattr__(self, name: str) -> Any:
        return getattr(self.via, name)


def deliver_out_of_order(tablet: Tablet, transport: Transport) -> int:
    """Deliver only the later half of ``tablet``'s pending ops, as a request that overtook the
    one carrying the earlier half; its answer is lost. Return how many ops went.

    The earlier half is still on its way: it arrives with the tablet's next sync, which pushes
    every pending op again, in order (the later half then as duplicates)."""
    pending = [entry.op for entry in tablet.store.outbox("pending")]
    if len(pending) < 2:
        return 0
    later = pending[len(pending) // 2:]
    transport.push(tablet.store.get("token"), PushRequest(later))
    return len(later)


class InProcessRegistry:
    """A registry on the database ``url`` with its keys in ``folder``, and the administrator's
    actions as plain calls. ``signed_freezes`` makes it require signed freezes, as ``serve``
    does."""

    def __init__(self, folder: Path, url: str, clock: Callable[[], int] = _system_ms,
                 signed_freezes: bool = False, replica_url: str = "") -> None:
        self.database = Database(url, replica_url)
        self.database.create_schema()
        self.catalog = TemplateCatalog()
        self.config = ServerConfig(data_dir=folder, public_url="https://registry.test")
        self.keys = RegistryKeys.load(folder)
        self.clock = clock
        self.totp_uris: dict[str, str] = {}
        """The ``otpauth://`` URI of each inspector's one-time-code secret, once issued."""
        self.transport = InProcessTransport(self.database, self.keys, self.catalog, self.config,
                                            clock, signed_freezes)

    def close(self) -> None:
        """Close the database's connections."""
        self.database.dispose()

    # -- administrator --------------------------------------------------------------------

    def add_inspector(self, inspector_id: str) -> None:
        create_inspector(self.database, InspectorCreate(inspector_id, f"Inspector {inspector_id}"))

    def enrollment_code(self, inspector_id: str) -> str:
        issued = issue_code(self.database, self.keys, inspector_id,
                             self.config.enrollment_code_ttl_s)
        if issued.totp_uri:
            self.totp_uris[inspector_id] = issued.totp_uri
        return issued.code

    def put_assignment(self, assignment_id: str, team: list[str]) -> None:
        put_assignment(self.database, Assignment(assignment_id, assignment_id, tuple(team)))

    # -- what the registry holds ----------------------------------------------------------

    def protocol_ids(self) -> set[str]:
        with self.database.read() as session:
            return set(session.exec(select(ProtocolRow.id)))

    def state(self, protocol_id: str) -> DocumentState:
        """The registry's merged state of a protocol."""
        with self.database.read() as session:
            row = session.get(ProtocolRow, protocol_id)
            assert row is not None, f"the registry has no protocol {protocol_id}"
            return decode_state(row)

    def latest_hlc(self, protocol_id: str) -> int:
        """The latest stamp the registry keeps for a protocol (``ProtocolRow.latest_hlc``)."""
        with self.database.read() as session:
            row = session.get(ProtocolRow, protocol_id)
            assert row is not None, f"the registry has no protocol {protocol_id}"
            return row.latest_hlc

    def protocol(self, protocol_id: str) -> Protocol:
        """The registry's copy of a protocol, as ``GET /v1/protocols/{id}`` materializes it."""
        with self.database.read() as session:
            row = session.get(ProtocolRow, protocol_id)
            assert row is not None, f"the registry has no protocol {protocol_id}"
            template = self.catalog.get(session, row.template_ref)
        return decode_state(row).materialize(template)

    def op_log(self) -> list[Op]:
        """Every op the registry merged, as the op log holds it."""
        with self.database.read() as session:
            return [op for row in session.exec(select(OpLogRow))
                    for op in unpack(row.doc, row.actor, row.ops)]

    def held(self) -> list[tuple[Op, str]]:
        """Every op set aside, with its code."""
        with self.database.read() as session:
            rows = session.exec(select(HeldOpRow))
            return [(Op(row.actor, row.seq, row.doc, row.path,
                        msgspec.msgpack.decode(row.value), row.hlc), row.code) for row in rows]
