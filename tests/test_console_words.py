"""The console's words and pictures, without a registry: every status, role, kind, action and
rule a page names has its words in every language; an enrollment QR carries the registry's
address and the code; the geofence is drawn to scale."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from field_sync import rules
from field_sync.enrollment import NotAnEnrollment, enrollment_uri, parse_enrollment
from field_sync.i18n import LANGUAGES
from server.console.pages import _ADMINISTRATION, _SUPERVISION
from server.console.svg import bars, geofence, stacked_columns
from server.data.queries import STATUSES
from server.data.reference import KINDS
from server.services.accounts import ROLES
from server.services.supervision import STATUS_ACTIONS
from server.web import MESSAGES

pytestmark = pytest.mark.database_free

RULE_CODES = ("unknown_signer", "signer_suspended", "attestation_lapsed", "unknown_instrument",
              "instrument_unverified", "no_location", "mock_location", "bad_location",
              "coarse_location", "outside_geofence", "not_signer", "not_assigned",
              "confirmation_failed", "attachment_missing", "evidence_elsewhere")


@pytest.mark.parametrize(("group", "values"), [
    ("status", STATUSES), ("role", ROLES), ("kind", tuple(KINDS)),
    ("history", STATUS_ACTIONS), ("method", ("totp", "biometric")),
    ("lock", ("account", "inspector")), ("rule", RULE_CODES),
    ("nav", tuple(key for key, _ in _SUPERVISION + _ADMINISTRATION)),
])
def test_every_word_a_page_looks_up_is_in_every_language(group: str,
                                                          values: tuple[str, ...]) -> None:
    for value in values:
        for lang in LANGUAGES:
            assert MESSAGES.text(lang, f"console.{group}.{value}").strip()


def test_the_rule_codes_named_are_the_rules_own() -> None:
    source = Path(rules.__file__).read_text(encoding="utf-8")
    assert set(re.findall(r'Breach\(\d, "([a-z_]+)"', source)) == set(RULE_CODES)


def test_an_enrollment_qr_carries_the_registry_and_the_code() -> None:
    text = enrollment_uri("https://registry.example.uz", "ABCD-EFGH-JKLM")
    assert text == ("fieldsync://enroll?registry=https%3A%2F%2Fregistry.example.uz"
                    "&code=ABCD-EFGH-JKLM")
    assert parse_enrollment(text) == ("https://registry.example.uz", "ABCD-EFGH-JKLM")
    for other in ("ABCD-EFGH-JKLM", "https://registry.example.uz/enroll?code=X",
                  "fieldsync://enroll?registry=ftp%3A%2F%2Fx&code=A",
                  "fieldsync://enroll?registry=https%3A%2F%2Fx"):
        with pytest.raises(NotAnEnrollment):
            parse_enrollment(other)


def _circles(svg: str) -> list[tuple[float, float, float]]:
    return [tuple(map(float, found)) for found in re.findall(
        r'<circle cx="([\d.]+)" cy="([\d.]+)" r="([\d.]+)"', svg)]  # type: ignore[misc]


def test_the_geofence_is_drawn_to_scale_north_up() -> None:
    labels = {"site": "Obyekt", "fix": "Shu yerda", "north": "Sh"}
    svg = geofence(lat="41.276000", lon="69.204000", accuracy_m="10", site_lat="41.275000",
                   site_lon="69.204000", radius_m="150", allowed_m=Decimal(160), inside=True,
                   title="Joylashuv <& belgi>", labels=labels)
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "Joylashuv &lt;&amp; belgi&gt;" in svg  # the title is escaped
    allowed, fence, accuracy, fix = _circles(svg)
    assert fence[:2] == allowed[:2] == (160.0, 160.0)  # the site in the middle
    assert fence[2] / allowed[2] == pytest.approx(150 / 160, rel=1e-3)
    # 111 m north of the centre: straight up, at the scale the fence is drawn at.
    metres_per_px = 150 / fence[2]
    assert fix[0] == pytest.approx(160.0)
    assert (160.0 - fix[1]) * metres_per_px == pytest.approx(110.574, rel=2e-3)
    assert accuracy[2] * metres_per_px == pytest.approx(10, rel=2e-2)
    assert 'fill="#0b6b3a"' in svg  # inside: green


def test_charts_carry_their_title_and_scale_to_their_numbers() -> None:
    chart = stacked_columns([("01.12", {"registered": 3, "quarantined": 1}), ("02.12", {})],
                            ["registered", "quarantined"], "Kuniga")
    assert "<title" in chart and chart.count("<rect") == 2
    assert ">4<" in chart and ">2<" in chart  # an even top, and its half
    assert bars([("Geozonadan tashqarida", 5)], "Qoidalar").count("<rect") == 1
