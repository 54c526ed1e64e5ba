"""The object a tablet app holds: enroll, fill protocols offline, sync when a network appears."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from client_lib import signing_time
from client_lib.anchors import kept_checkpoint, kept_trust_list, pinned_key
from client_lib.attach import Attached, Capture, attach_file
from client_lib.blob_transport import BlobTransport, HttpBlobTransport
from client_lib.blobs import DEFAULT_PULLED_BUDGET, BlobFolder, Source
from client_lib.editor import ProtocolEditor
from client_lib.errors import (
    ClientError,
    NotEnrolled,
    Offline,
    ProtocolSigned,
    RegistryRefused,
    SigningRefused,
    UnknownProtocol,
    UnknownTemplate,
)
from client_lib.keystore import KeyStore, SoftwareKeyStore
from client_lib.store import DeviceStore, OutboxEntry
from client_lib.sync import PushForm, Synchronizer, SyncReport
from client_lib.transport import HttpTransport, Transport
from client_lib.uploads import BlobUploader
from field_sync import (
    DocumentState,
    Form,
    HybridLogicalClock,
    canonical_bytes,
    content_hash,
    form_of,
)
from field_sync.confirmation import biometric_challenge
from field_sync.document import printed_protocol, render_pdf
from field_sync.enrollment import ENROLLMENT_SCHEME, parse_enrollment
from field_sync.evidence import attachments_of, read_attachment
from field_sync.freeze import Freeze, covers
from field_sync.i18n import DEFAULT_LANGUAGE
from field_sync.paths import ASSIGNMENT, FREEZE, SUPERSEDES, TEMPLATE
from field_sync.rules import Breach, RuleContext, check_rules
from field_sync.seal import claim_for, make_seal
from field_sync.signing import b64url
from field_sync.thumbnails import thumbnail
from field_sync.verify import Verdict, verify_offline
from schemas import (
    Assignment,
    EnrollRequest,
    Field,
    Inspector,
    Op,
    Protocol,
    Template,
    builtin_templates,
)
from schemas.reference import ReferenceInstrument, Site
from schemas.signing import (
    AuditCheckpoint,
    Confirmation,
    LocationFix,
    Receipt,
    SignedProtocol,
    SigningStatement,
    TotpConfirmation,
)
from schemas.wire import TeamMember

__all__ = ["Tablet"]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Tablet:
    """One enrolled tablet, backed by its own SQLite file.

    Args:
        path: the tablet's SQLite file (made on first use).
        passphrase: unlocks the software key store (ignored when ``keys`` is given).
        transport: how to reach the registry; by default HTTP to the URL given at enrollment.
        keys: the signing key store; by default ``SoftwareKeyStore`` in the same file.
        wall_ms: the wall clock in ms (tests pass a skewed one).
        blob_transport: how evidence files reach the registry; by default HTTP to the URL
            given at enrollment.
        pulled_blob_budget: bytes of teammates' files, fetched when opened, the tablet keeps
            (the least recently opened go first); files attached here are always kept.
    """

    def __init__(
        self,
        path: str | Path,
        passphrase: bytes,
        *,
        transport: Transport | None = None,
        keys: KeyStore | None = None,
        wall_ms: Callable[[], int] = _wall_ms,
        blob_transport: BlobTransport | None = None,
        pulled_blob_budget: int = DEFAULT_PULLED_BUDGET,
    ) -> None:
        self.store = DeviceStore(path)
        self.keys = keys or SoftwareKeyStore(self.store, passphrase)
        self.blobs = BlobFolder(self.store, pulled_blob_budget)
        self._transport = transport
        self._blob_transport = blob_transport
        self._wall_ms = wall_ms
        self._push_form = PushForm()
        self.clock = HybridLogicalClock(
            last=self.store.get("hlc_last", 0),
            offset_ms=self.store.get("clock_offset", 0),
            wall_ms=wall_ms,
        )
        # The built-in templates of this version of the library (a newer one brings new ones).
        known = {template.ref for template in self.store.templates()}
        if missing := [t for t in builtin_templates() if t.ref not in known]:
            with self.store.transaction() as db:
                DeviceStore.save_templates(db, missing)

    def close(self) -> None:
        """Close the tablet's file (and its connections to the registry)."""
        for transport in (self._transport, self._blob_transport):
            if isinstance(transport, HttpTransport | HttpBlobTransport):
                transport.close()
        self.store.close()

    # -- identity ---------------------------------------------------------------------------

    @property
    def device_id(self) -> str:
        """This tablet's device id (empty before enrollment)."""
        return str(self.store.get("device_id", ""))

    @property
    def inspector(self) -> Inspector | None:
        """The inspector this tablet belongs to."""
        raw = self.store.get("inspector")
        return None if raw is None else msgspec.convert(raw, Inspector)

    @property
    def transport(self) -> Transport:
        """How this tablet reaches its registry: the one given, else HTTP to the registry it
        enrolled with."""
        return self._transport_or_default()

    def _transport_or_default(self) -> Transport:
        if self._transport is None:
            url = self.store.get("server_url")
            if not url:
                raise NotEnrolled("enroll this tablet with a registry first")
            self._transport = HttpTransport(url)
        return self._transport

    def enroll(self, code: str, server_url: str = "", device_name: str = "",
               biometric_credential_id: str = "", biometric_public_key: str = "") -> Inspector:
        """Enroll with a one-time code; the signing key is made here and never leaves.

        ``code`` may be the text of an enrollment QR code (``fieldsync://enroll?registry=…
        &code=…``, as the console and ``field-sync admin enroll-code`` show it): the registry's
        address is then the one it names (``field_sync.enrollment.NotAnEnrollment`` if it is
        not one).

        The registry key the answer names is pinned: from then on the tablet trusts only the
        trust lists and audit checkpoints it signed. A tablet whose authenticator made a
        WebAuthn credential for the inspector registers it here (id and COSE public key,
        base64url), so that biometric confirmations verify.
        """
        if code.strip().lower().startswith(f"{ENROLLMENT_SCHEME}:"):
            server_url, code = parse_enrollment(code)
        if server_url:
            self._transport = self._transport or HttpTransport(server_url)
        transport = self._transport_or_default()
        sent = self._wall_ms()
        answer = transport.enroll(EnrollRequest(
            code, self.keys.public_key_pem(), device_name, biometric_credential_id,
            biometric_public_key))
        self.clock.learn_offset(answer.server_time_ms, sent, self._wall_ms())
        with self.store.transaction() as db:
            for key, value in (("device_id", answer.device_id), ("token", answer.token),
                               ("inspector", answer.inspector), ("server_url", server_url),
                               ("clock_offset", self.clock.offset_ms), ("kid", answer.kid),
                               ("public_url", answer.public_url or server_url),
                               ("registry_key", answer.registry_key)):
                if value != "":
                    DeviceStore.put(db, key, value)
            self.store.learn_registry_time(db, answer.registry_time)
        return answer.inspector

    # -- reference data ---------------------------------------------------------------------

    def templates(self) -> list[Template]:
        """The templates this tablet can fill."""
        return self.store.templates()

    def template(self, ref: str) -> Template:
        """One template by ``id@version``."""
        for template in self.store.templates():
            if template.ref == ref:
                return template
        raise UnknownTemplate(ref)

    def assignments(self) -> list[Assignment]:
        """The inspections given to this tablet's inspector."""
        return self.store.reference("assignment", Assignment)

    # -- protocols --------------------------------------------------------------------------

    def create_protocol(self, template_ref: str, assignment_id: str,
                        fields: dict[str, Any] | None = None, supersedes: str = "") -> str:
        """Start a protocol from a template for an assignment; saved before it returns.

        A correction of a signed protocol is a new protocol that ``supersedes`` it: once the
        correction is signed and registered, the old seal verifies as superseded.
        """
        if not self.device_id:
            raise NotEnrolled("enroll this tablet before filling protocols")
        form = form_of(self.template(template_ref))
        if assignment_id not in {assignment.id for assignment in self.assignments()}:
            raise ClientError(f"assignment {assignment_id!r} is not given to this inspector")
        meta = {TEMPLATE: template_ref, ASSIGNMENT: assignment_id}
        if supersedes:
            if self._state(supersedes).frozen is None:
                raise ClientError(f"protocol {supersedes} is not signed: edit it instead")
            meta[SUPERSEDES] = supersedes
        editor = self._editor(str(uuid.uuid4()), form)
        editor.create(meta, fields or {})
        editor.save()
        return editor.protocol_id

    def edit(self, protocol_id: str) -> ProtocolEditor:
        """An editor for a protocol on this tablet; a signed protocol cannot be edited."""
        state = self._state(protocol_id)
        if state.frozen is not None:
            raise ProtocolSigned(f"protocol {protocol_id} is signed; a correction is a new "
                                 "protocol that supersedes it")
        return self._editor(protocol_id, form_of(self.template(state.template_ref or "")))

    def freeze(self, protocol_id: str) -> Freeze:
        """Freeze the protocol, unsigned, at the state this tablet holds.

        The mechanism under ``sign()``, for embedded registries that take unsigned freezes; the
        registry server refuses a freeze without a signature.
        """
        return self._freeze(protocol_id, None)

    def sign(self, protocol_id: str, confirmation: Confirmation,
             location: LocationFix | None = None, signed_at_ms: int | None = None) -> Freeze:
        """Sign the protocol as it stands on this tablet, offline, and seal it.

        The device key signs the content hash with the signer, time, version vector, location
        fix, confirmation and the registry time this tablet was last told; the QR seal is made
        here too (``signed.seal``). The protocol is frozen: the registry will hold exactly this
        state, and later edits, from any tablet, are refused with ``protocol_signed`` and kept
        aside.

        Args:
            confirmation: the one-time code the inspector typed, or a biometric assertion over
                ``biometric_challenge(protocol_id, signed_at_ms)``.
            location: the fix taken at signing.
            signed_at_ms: the signing time the biometric challenge was made for
                (``signing_time``); by default, now (``signing_time`` at this moment).

        Raises:
            SigningRefused: a registry rule is broken, as far as the tablet can tell.
            SigningTimeRefused: the signing time is one the registry would refuse.
        """
        return self._freeze(protocol_id, (confirmation, location, signed_at_ms))

    def signing_time(self, protocol_id: str, location: LocationFix | None = None) -> int:
        """The time a signature of the protocol made now is dated (ms since the epoch): the
        tablet's corrected clock, or later when its stamps, the registry time it was told or
        the fix are (``client_lib.signing_time``)."""
        state = self._state(protocol_id)
        return signing_time.earliest(self.clock,
                                     signing_time.floors(self.store, state, location))

    def biometric_challenge(self, protocol_id: str, signed_at_ms: int) -> bytes:
        """The WebAuthn challenge for the assertion that confirms a signature of the protocol,
        as it stands, at ``signed_at_ms``: give it to the platform authenticator, then pass the
        assertion and the same time to ``sign``."""
        return biometric_challenge(self.content_hash(protocol_id), signed_at_ms)

    def _freeze(self, protocol_id: str, signing: tuple[Confirmation, LocationFix | None,
                                                       int | None] | None) -> Freeze:
        state = self._state(protocol_id)
        if state.frozen is not None:
            raise ProtocolSigned(f"protocol {protocol_id} is already signed")
        template = self.template(state.template_ref or "")
        protocol = state.materialize(template)
        freeze = Freeze(dict(state.vector), content_hash(protocol))
        if signing is not None:
            freeze = Freeze(freeze.vector, freeze.content_hash,
                            self._signature(state, protocol, template, freeze, *signing))
        editor = self._editor(protocol_id, form_of(template))
        editor.set(FREEZE, msgspec.to_builtins(freeze))
        editor.save()
        return freeze

    def _signature(self, state: DocumentState, protocol: Protocol, template: Template,
                   freeze: Freeze, confirmation: Confirmation, location: LocationFix | None,
                   signed_at_ms: int | None) -> SignedProtocol:
        inspector, kid = self.inspector, self.store.get("kid", "")
        if inspector is None or not kid:
            raise NotEnrolled("enroll this tablet before signing")
        known = signing_time.floors(self.store, state, location)
        signed_at = signed_at_ms if signed_at_ms is not None else \
            signing_time.earliest(self.clock, known)
        told = self.store.registry_time()
        signing_time.check_time(signed_at, known, self.clock, confirmation, told is not None,
                                chosen=signed_at_ms is not None)
        statement = SigningStatement(
            protocol_id=protocol.id, content_hash=freeze.content_hash, vector=freeze.vector,
            signer=inspector.id, device_id=self.device_id, kid=kid, signed_at_ms=signed_at,
            confirmation=confirmation, location=location, registry_time=told)
        breaches = check_rules(self._rule_context(protocol, template, statement, inspector))
        if breaches:
            raise SigningRefused(breaches)
        seal = make_seal(claim_for(protocol, template, signed_at), self.keys.sign,
                         bytes.fromhex(kid), self.store.get("public_url", ""))
        return SignedProtocol(statement, b64url(self.keys.sign(canonical_bytes(statement))), seal)

    def _rule_context(self, protocol: Protocol, template: Template,
                      statement: SigningStatement, inspector: Inspector) -> RuleContext:
        """The rules' view from what this tablet holds (reference data of its last sync)."""
        assignment = next((a for a in self.assignments() if a.id == protocol.assignment), None)
        site = self._site(protocol.assignment)
        instruments = {i.id: i for i in self.store.reference("instrument", ReferenceInstrument)}
        return RuleContext(protocol=protocol, template=template, statement=statement,
                           signer=inspector, key_owner=inspector.id, assignment=assignment,
                           site=site, instruments=instruments)

    def check_signing(self, protocol_id: str, location: LocationFix | None = None) -> list[Breach]:
        """What would keep this protocol from being signed now, offline (rule 6, the
        confirmation, only the registry can check)."""
        inspector = self.inspector
        if inspector is None:
            raise NotEnrolled("enroll this tablet before signing")
        state = self._state(protocol_id)
        template = self.template(state.template_ref or "")
        protocol = state.materialize(template)
        statement = SigningStatement(
            protocol_id=protocol_id, content_hash=content_hash(protocol),
            vector=dict(state.vector), signer=inspector.id, device_id=self.device_id,
            kid=self.store.get("kid", ""),
            signed_at_ms=signing_time.earliest(
                self.clock, signing_time.floors(self.store, state, location)),
            confirmation=TotpConfirmation(""), location=location)
        return check_rules(self._rule_context(protocol, template, statement, inspector))

    def status(self, protocol_id: str) -> tuple[str, list[str]]:
        """``draft``; ``awaiting_evidence`` (signed, but files attached on this tablet have
        not all reached the registry, which registers it once they have: the reasons name
        them); ``signed`` (not yet registered); ``registered``; or ``quarantined`` (with the
        registry's reasons)."""
        if self.receipt(protocol_id) is not None:
            return "registered", []
        reasons = self.store.get(f"quarantine:{protocol_id}")
        if reasons:
            return "quarantined", list(reasons)
        if not self._state(protocol_id).frozen:
            return "draft", []
        unsent = [f"{blob.sha256} ({blob.size} bytes) not uploaded yet"
                  for blob in self.blobs.unconfirmed() if protocol_id in blob.docs
                  and blob.sha256 in self._signed_hashes(protocol_id)]
        return ("awaiting_evidence", unsent) if unsent else ("signed", [])

    def _signed_hashes(self, protocol_id: str) -> set[str]:
        state = self._state(protocol_id)
        template = self.template(state.template_ref or "")
        return {attachment.sha256 for _, attachment in
                attachments_of(template, state.materialize(template))}

    def rotate_key(self) -> str:
        """Make a new signing key and enroll it (needs the network); return its key id.

        The old key is retired: what it signed stays valid. On a real tablet the key store
        makes the key in secure hardware.
        """
        token = self.store.get("token")
        if not token:
            raise NotEnrolled("enroll this tablet before rotating its key")
        # The new key signs only once the registry has enrolled it: a rotation cut off by the
        # network leaves the old key in use, and the same new key is offered next time.
        kid = self._transport_or_default().rotate_key(token, self.keys.next_key())
        self.keys.promote()
        with self.store.transaction() as db:
            DeviceStore.put(db, "kid", kid)
        return kid

    def verify(self, seal: str) -> Verdict:
        """Check a seal offline against the trust list cached at the last sync, trusting only
        the registry key pinned at enrollment (or, after the agency rotated it, the key its
        hand-overs led to)."""
        pin, trusted = pinned_key(self.store), kept_trust_list(self.store)
        if pin is None:
            return Verdict("untrusted", "no registry key pinned: enroll with the registry")
        if trusted is None:
            return Verdict("untrusted", "no trust list yet: sync once with the registry")
        return verify_offline(seal, trusted, pin)

    def audit_checkpoint(self) -> AuditCheckpoint | None:
        """The newest checkpoint of the registry's audit log this tablet was given (signed by
        the pinned registry key): evidence that the log reached it, for
        ``field-sync audit verify --checkpoint``."""
        return kept_checkpoint(self.store)

    def render_pdf(self, protocol_id: str, lang: str = DEFAULT_LANGUAGE) -> bytes:
        """The printed protocol as a PDF in ``lang``, offline (the same bytes the registry
        serves at ``/v1/protocols/{id}/document.pdf`` once this tablet has its receipt, and
        every photo the protocol names, as the signer's tablet does): the team is named as the
        last sync brought it; a photo not on this tablet is named without its thumbnail."""
        state = self._state(protocol_id)
        template = self.template(state.template_ref or "")
        protocol = state.materialize(template)
        assignment = next((a for a in self.assignments() if a.id == protocol.assignment), None)
        team = set(assignment.inspectors) if assignment else set()
        receipt = self.receipt(protocol_id)
        return render_pdf(printed_protocol(
            protocol, template, state.frozen.signed if state.frozen else None,
            receipt.registry_number if receipt else "",
            [member for member in self.store.reference("team_member", TeamMember)
             if member.id in team], self._site(protocol.assignment),
            self._thumbnails(template, protocol)), lang)

    def _thumbnails(self, template: Template, protocol: Protocol) -> dict[str, bytes]:
        """The thumbnails of the protocol's photos that are on this tablet."""
        found: dict[str, bytes] = {}
        for _, attachment in attachments_of(template, protocol):
            path = self.blobs.file(attachment.sha256)
            if attachment.media_type.startswith("image/") and path.exists():
                found[attachment.sha256] = thumbnail(path)
        return found

    def signature(self, protocol_id: str) -> SignedProtocol | None:
        """The signature (and seal) of a signed protocol, or None."""
        frozen = self._state(protocol_id).frozen
        return None if frozen is None else frozen.signed

    def receipt(self, protocol_id: str) -> Receipt | None:
        """The registry's receipt for a registered protocol, once it has synced back."""
        raw = self.store.get(f"receipt:{protocol_id}")
        return None if raw is None else msgspec.convert(raw, Receipt)

    def _editor(self, protocol_id: str, form: Form) -> ProtocolEditor:
        def stage(path: str, value: Any) -> Op:
            op = Op(self.device_id, 0, protocol_id, path, value, 0)
            form.check_op(op)
            return op

        def save(ops: list[Op]) -> None:
            with self.store.transaction() as db:
                if ops[0].path == "":  # the creating op: the protocol is new on this tablet
                    DeviceStore.create_document(db, protocol_id, ops[0].value[TEMPLATE],
                                                ops[0].value[ASSIGNMENT])
                self._append(db, ops)

        def attach(source: Source, field: Field, fix: LocationFix | None) -> Attached:
            assignment = self._state(protocol_id).assignment
            capture = Capture(self._site(assignment), self.clock.corrected_ms(), fix)
            return attach_file(self.blobs, source, field, protocol_id, capture)

        return ProtocolEditor(protocol_id, form, stage, save, attach)

    def _site(self, assignment_id: str | None) -> Site | None:
        """The site of an assignment, as this tablet's reference data has it."""
        assignment = next((a for a in self.assignments() if a.id == assignment_id), None)
        return next((s for s in self.store.reference("site", Site)
                     if assignment is not None and s.id == assignment.site_id), None)

    def _append(self, db: Any, ops: list[Op]) -> None:
        """Number and stamp staged ops, and add them to the outbox (inside a transaction)."""
        first = self.store.get("next_seq", 1)
        stamped = [Op(self.device_id, first + index, op.doc, op.path, op.value, self.clock.now())
                   for index, op in enumerate(ops)]
        DeviceStore.append_ops(db, stamped)
        DeviceStore.put(db, "next_seq", first + len(ops))
        DeviceStore.put(db, "hlc_last", self.clock.last)

    def _state(self, protocol_id: str) -> DocumentState:
        state = self.store.base(protocol_id)
        if state is None:
            raise UnknownProtocol(protocol_id)
        merged = state.vector.get(self.device_id, 0)
        for entry in self.store.outbox(doc=protocol_id):
            frozen = state.frozen
            # An accepted op the registry's copy already holds (its seq is within the copy's
            # vector) is not laid over it again: the copy may have removed what it wrote.
            already = entry.status == "accepted" and entry.op.seq <= merged
            if entry.status != "rejected" and not already and (
                    frozen is None or covers(frozen, entry.op)):
                state.apply(entry.op)
        return state

    def protocol(self, protocol_id: str) -> Protocol:
        """A protocol as the inspector sees it on this tablet, computed values included."""
        state = self._state(protocol_id)
        return state.materialize(self.template(state.template_ref or ""))

    def protocols(self) -> list[Protocol]:
        """Every protocol on this tablet."""
        return [self.protocol(protocol_id) for protocol_id, _, _ in self.store.documents()]

    def content_hash(self, protocol_id: str) -> str:
        """SHA-256 of the protocol's canonical encoding, as the registry computes it."""
        return content_hash(self.protocol(protocol_id))

    # -- sync -------------------------------------------------------------------------------

    def pending(self) -> int:
        """How many saved changes wait to reach the registry."""
        return len(self.store.pending())

    def rejections(self) -> list[OutboxEntry]:
        """Changes the registry refused, with its reasons; they stay on the tablet."""
        return self.store.outbox("rejected")

    def sync(self, batch_size: int = 500) -> SyncReport:
        """Push what was saved, upload the evidence files the registry lacks, pull what
        changed; with no network, keep everything for later (an upload cut off goes on from
        where the registry stands next time)."""
        synchronizer = self._synchronizer(batch_size)
        report = synchronizer.run(pull=False)
        if report.ok:
            self._upload(report)
        if report.ok:
            pulled = synchronizer.run(push=False)
            report.pulled, report.offline, report.error = pulled.pulled, pulled.offline, \
                pulled.error
        return report

    def push(self, batch_size: int = 500) -> SyncReport:
        """Only send what was saved, and the evidence files (say, on a short connection);
        pull later."""
        report = self._synchronizer(batch_size).run(pull=False)
        if report.ok:
            self._upload(report)
        return report

    def _upload(self, report: SyncReport) -> None:
        """Upload the files attached here that the registry lacks (after the ops that name
        them); a lost connection ends it as it ends a sync."""
        if not self.blobs.unconfirmed():
            return
        uploader = BlobUploader(self.blobs, self._blob_transport_or_default(),
                                self.store.get("token"))
        report.uploads = uploader.report
        try:
            uploader.run()
        except Offline as exc:
            report.offline, report.error = True, str(exc)
        except RegistryRefused as exc:
            report.error = str(exc)

    def _blob_transport_or_default(self) -> BlobTransport:
        if self._blob_transport is None:
            url = self.store.get("server_url")
            if not url:
                raise NotEnrolled("this tablet has no registry address to send files to")
            self._blob_transport = HttpBlobTransport(url)
        return self._blob_transport

    def attachment(self, protocol_id: str, path: str) -> Path:
        """The file an attachment field of a protocol names (``premises_photo``, or
        ``instruments/<row uuid>/label_photo``): on the tablet already, or fetched from the
        registry now (``Offline`` without a network) and kept within the tablet's budget for
        pulled files."""
        protocol = self.protocol(protocol_id)
        collection, _, rest = path.partition("/")
        row_id, _, name = rest.partition("/")
        value = protocol.fields.get(path) if not rest else \
            protocol.collections.get(collection, {}).get(row_id, {}).get(name)
        attachment = read_attachment(value)
        if attachment is None:
            raise ClientError(f"{path} of protocol {protocol_id} holds no attachment")
        kept = self.blobs.open_path(attachment.sha256)
        if kept is not None:
            return kept
        token = self.store.get("token")
        if not token:
            raise NotEnrolled("enroll this tablet before fetching files")
        with self._blob_transport_or_default().download(token, protocol_id,
                                                        attachment.sha256) as chunks, \
                self.blobs.receive(chunks) as incoming:
            if incoming.sha256 != attachment.sha256 or incoming.size != attachment.size:
                raise ClientError(f"the registry sent other bytes than {attachment.sha256}")
            kept = self.blobs.keep(incoming, attachment.media_type, "pulled", protocol_id)
        self.blobs.evict(keep=attachment.sha256)
        return kept

    def pull(self) -> SyncReport:
        """Only fetch what changed at the registry."""
        return self._synchronizer(500).run(push=False)

    def _synchronizer(self, batch_size: int) -> Synchronizer:
        token = self.store.get("token")
        if not token:
            raise NotEnrolled("enroll this tablet before syncing")
        return Synchronizer(self.store, self._transport_or_default(), self.clock, token,
                            batch_size, self._wall_ms, self._push_form)
