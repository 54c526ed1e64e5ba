"""Attachment fields, the bytes of evidence files and rule 7, as pure functions.

An attachment field's value is an ``Attachment`` (hash, size, media type, capture time and
place), checked like any value; the content hash covers it. Files are what their bytes say they
are, a photo's EXIF data gives its place and time, and rule 7 refuses signing without a required
attachment, or with a photo taken away from the site.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from geopy.distance import geodesic

from field_sync import DocumentState, InvalidOperation, content_hash, form_of, pack
from field_sync.media import MediaRefused, check_decodes, photo_facts, sniff
from field_sync.paths import ASSIGNMENT, TEMPLATE
from field_sync.rules import Breach, RuleContext, check_rules
from schemas import Assignment, Inspector, Op, Protocol, Template, builtin_templates
from schemas.attachments import Attachment, CaptureFix
from schemas.reference import Site
from schemas.signing import LocationFix, SigningStatement, TotpConfirmation
from tests.photos import PDF, jpeg, png, with_gps

pytestmark = pytest.mark.database_free

MSP2: Template = next(t for t in builtin_templates() if t.ref == "metrology_supervision@2")
SITE = Site(id="site-1", entity_tin="301245678", name="Chilonzor bozori", lat="41.275000",
            lon="69.204000", radius_m="150")
SIGNED_AT_MS = 1_795_000_000_000
FIELDS = {"number": "TR-1", "started_at": "2026-11-20T10:00:00+05:00",
          "entity_tin": "301245678", "entity_name": "Bozor MChJ",
          "site_address": "Toshkent, Chilonzor 7", "lead_inspector": "insp-a",
          "conclusion": "compliant"}


def attachment(data: bytes = b"x", media_type: str = "image/jpeg", *,
               fix: CaptureFix | None = None, taken_at: str = "2026-11-20T10:05:00+05:00",
               size: int | None = None) -> list[Any]:
    """An attachment field's value on the wire (an array)."""
    return msgspec.to_builtins(Attachment(
        hashlib.sha256(data).hexdigest(), len(data) if size is None else size,
        media_type, taken_at, "device", fix))  # type: ignore[arg-type]


def protocol(label_photo: list[Any] | None, premises: list[Any] | None = None) -> Protocol:
    """A metrology_supervision@2 protocol with one inspected instrument, its label photo
    (if given) and a photo of the premises (if given), as both sides make it."""
    doc, row = str(uuid.uuid4()), str(uuid.uuid4())
    fields = {**FIELDS, **({"premises_photo": premises} if premises is not None else {})}
    writes: list[tuple[str, Any]] = [("", {TEMPLATE: MSP2.ref, ASSIGNMENT: "asg-1", **fields}),
                                     (f"instruments/{row}", {"type": "scale", "serial": "SN-1"})]
    if label_photo is not None:
        writes.append((f"instruments/{row}/label_photo", label_photo))
    state, form = DocumentState(doc), form_of(MSP2)
    for seq, (path, value) in enumerate(writes, start=1):
        op = Op("device-a", seq, doc, path, value, pack(SIGNED_AT_MS - 60_000, seq))
        state.apply(op, written=form.check_op(op))
    return state.materialize(MSP2)


def rule_7(found: Protocol) -> list[tuple[int, str]]:
    return [(breach.rule, breach.code) for breach in rule_7_breaches(found)]


def rule_7_breaches(found: Protocol) -> list[Breach]:
    statement = SigningStatement(
        protocol_id=found.id, content_hash="00" * 32, vector={"device-a": 9}, signer="insp-a",
        device_id="device-a", kid="ab" * 8, signed_at_ms=SIGNED_AT_MS,
        confirmation=TotpConfirmation("000000"),
        location=LocationFix("41.275", "69.204", "5", SIGNED_AT_MS - 1000))
    context = RuleContext(
        protocol=found, template=MSP2, statement=statement,
        signer=Inspector("insp-a", "A", attested_until="2099-12-31"), key_owner="insp-a",
        assignment=Assignment("asg-1", "t", ("insp-a",), site_id=SITE.id), site=SITE,
        instruments={})
    return [breach for breach in check_rules(context) if breach.rule == 7]


def point(metres: float) -> tuple[str, str]:
    """A place ``metres`` north-east of the site."""
    found = geodesic(meters=metres).destination((41.275, 69.204), 45)
    return f"{found.latitude:.7f}", f"{found.longitude:.7f}"


# -- the value ------------------------------------------------------------------------------

def test_an_attachment_is_a_field_value_the_content_hash_covers() -> None:
    one, other = protocol(attachment(b"photo one")), protocol(attachment(b"photo two"))
    row = next(iter(one.collections["instruments"].values()))
    assert Attachment(*row["label_photo"]).sha256 == hashlib.sha256(b"photo one").hexdigest()
    same_but_photo = msgspec.structs.replace(other, id=one.id, collections={
        "instruments": {next(iter(one.collections["instruments"])):
                        next(iter(other.collections["instruments"].values()))}})
    assert content_hash(one) != content_hash(same_but_photo)


@pytest.mark.parametrize(("value", "why"), [
    ({"sha256": "ab" * 32, "size": 1}, "map"),  # an array on the wire, never a map
    (["AB" * 32, 5, "image/jpeg", "2026-11-20T10:05:00+05:00", "device", None], "attachment"),
    (["ab" * 32, 0, "image/jpeg", "2026-11-20T10:05:00+05:00", "device", None], "attachment"),
    (["ab" * 32, 5, "image/gif", "2026-11-20T10:05:00+05:00", "device", None], "attachment"),
    (["ab" * 32, 5, "application/pdf", "2026-11-20T10:05:00+05:00", "device", None],
     "takes image/jpeg, image/png"),
    (["ab" * 32, 21 * 1024 * 1024, "image/jpeg", "2026-11-20T10:05:00+05:00", "device", None],
     "at most 20971520 bytes"),
    (["ab" * 32, 5, "image/jpeg", "2026-11-20T10:05:00", "device", None], "UTC offset"),
    (["ab" * 32, 5, "image/jpeg", "2026-11-20T10:05:00+05:00", "camera", None], "attachment"),
    (["ab" * 32, 5, "image/jpeg", "2026-11-20T10:05:00+05:00", "device", ["x", "1", None,
                                                                          "device"]],
     "attachment"),
    ("ab" * 32, "expected an attachment"),
])
def test_a_bad_attachment_value_is_refused(value: Any, why: str) -> None:
    form = form_of(MSP2)
    row = str(uuid.uuid4())
    for path, written in ((f"instruments/{row}/label_photo", value),
                          (f"instruments/{row}", {"type": "scale", "label_photo": value})):
        with pytest.raises(InvalidOperation, match=why) as refused:
            form.check_op(Op("d", 1, str(uuid.uuid4()), path, written, 1))
        assert refused.value.code == "bad_value"


def test_an_attachment_written_whole_with_its_row_is_taken() -> None:
    form = form_of(MSP2)
    photo = attachment(b"label", fix=CaptureFix("41.275", "69.204", None, "photo"))
    written = form.check_op(Op("d", 1, str(uuid.uuid4()), f"instruments/{uuid.uuid4()}",
                               {"type": "scale", "label_photo": photo}, 1))
    assert dict(written.fields)["label_photo"] == photo


def test_a_text_field_takes_no_attachment() -> None:
    with pytest.raises(InvalidOperation):
        form_of(MSP2).check_op(Op("d", 1, str(uuid.uuid4()), "findings", attachment(), 1))


# -- the bytes ------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "media_type"), [
    (jpeg(), "image/jpeg"), (png(), "image/png"), (PDF, "application/pdf")])
def test_a_file_is_what_its_bytes_say(data: bytes, media_type: str) -> None:
    assert sniff(data[:8]) == media_type
    check_decodes(io.BytesIO(data), sniff(data[:8]))


@pytest.mark.parametrize(("data", "media_type", "code"), [
    (b"GIF89a\x01\x00", None, "unknown_media_type"),
    (jpeg(width=640, height=480)[:6000], "image/jpeg", "undecodable"),
    (png()[:60], "image/png", "undecodable"),
    (png(), "image/jpeg", "media_type_mismatch"),
    (PDF[:-7], "application/pdf", "undecodable"),
    (b"\xff\xd8\xff" + b"\x00" * 64, "image/jpeg", "undecodable"),
])
def test_a_file_that_is_not_what_it_says_is_refused(data: bytes, media_type: str | None,
                                                    code: str) -> None:
    with pytest.raises(MediaRefused) as refused:
        check_decodes(io.BytesIO(data), media_type or sniff(data[:8]))  # type: ignore[arg-type]
    assert refused.value.code == code


def test_exif_gives_the_place_and_time_a_photo_was_taken() -> None:
    taken = dt.datetime(2026, 11, 20, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    data = jpeg(exif=with_gps(Decimal("41.2751234"), Decimal("-69.2041234"), 8.5, taken))
    facts = photo_facts(io.BytesIO(data))
    assert facts.taken_at == taken
    assert (facts.lat, facts.lon, facts.accuracy_m) == (Decimal("41.2751234"),
                                                        Decimal("-69.2041234"), Decimal("8.5"))
    assert photo_facts(io.BytesIO(jpeg())) == (None, None, None, None)
    assert photo_facts(io.BytesIO(PDF)) == (None, None, None, None)


# -- rule 7 ---------------------------------------------------------------------------------

def test_a_required_attachment_missing_breaks_rule_7() -> None:
    assert rule_7(protocol(None)) == [(7, "attachment_missing")]
    assert rule_7(protocol(attachment())) == []


def test_rule_7_names_the_file_and_says_what_is_wrong_with_it() -> None:
    """The words the tablet shows, and the quarantine keeps: the slot, then what is wrong."""
    missing = protocol(None)
    (row,) = missing.collections["instruments"]
    assert rule_7_breaches(missing) == [Breach(
        7, "attachment_missing", f"instruments/{row}/label_photo: a required attachment is "
        "missing")]
    far = protocol(attachment(fix=CaptureFix(*point(400), None, "photo")))
    (row,) = far.collections["instruments"]
    assert rule_7_breaches(far) == [Breach(
        7, "evidence_elsewhere", f"instruments/{row}/label_photo: taken 400 m from the site; "
        "the geofence allows 180 m")]


def test_a_photo_taken_away_from_the_site_breaks_rule_7() -> None:
    inside, outside = point(170), point(400)  # the geofence: 150 m, and 30 m for accuracy
    near = attachment(fix=CaptureFix(*inside, None, "photo"))
    far = attachment(fix=CaptureFix(*outside, None, "photo"))
    coarse = attachment(fix=CaptureFix(*outside, "300", "device"))
    assert rule_7(protocol(near, premises=coarse)) == []
    assert rule_7(protocol(near, premises=far)) == [(7, "evidence_elsewhere")]
    assert rule_7(protocol(far)) == [(7, "evidence_elsewhere")]
