"""Evidence photos for end-to-end tests: a site, photos taken near it, a protocol that wants
one, and tablets reopened with other transports."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from decimal import Decimal
from typing import Any

from geopy.distance import geodesic

from client_lib import Tablet
from client_lib.errors import Offline
from schemas.reference import Site
from schemas.signing import LocationFix
from tests.live import PASSPHRASE
from tests.photos import jpeg, with_gps

__all__ = ["SITE", "TASHKENT", "TEMPLATE", "Unreachable", "here", "inspection", "near_site",
           "photo", "reopened"]

TEMPLATE = "metrology_supervision@2"
SITE = Site(id="site-evidence", entity_tin="301245678", name="Chilonzor bozori",
            lat="41.2750000", lon="69.2040000", radius_m="150")
TASHKENT = dt.timezone(dt.timedelta(hours=5))


def near_site(metres: float = 20) -> tuple[Decimal, Decimal]:
    found = geodesic(meters=metres).destination((41.275, 69.204), 60)
    return Decimal(f"{found.latitude:.7f}"), Decimal(f"{found.longitude:.7f}")


def here() -> LocationFix:
    lat, lon = near_site(10)
    return LocationFix(str(lat), str(lon), "6", time.time_ns() // 1_000_000)


def photo(seed: int, width: int = 640, height: int = 480, metres: float = 20) -> bytes:
    """A JPEG whose EXIF data says it was taken a minute ago, ``metres`` from the site."""
    taken = dt.datetime.now(TASHKENT).replace(microsecond=0) - dt.timedelta(minutes=1)
    return jpeg(seed, width, height, exif=with_gps(*near_site(metres), 5.0, taken))


def inspection(tablet: Tablet, assignment: str) -> tuple[str, str]:
    """A metrology_supervision@2 protocol complete but for its instrument's label photo;
    returns it and the instrument's row."""
    assert tablet.inspector is not None
    protocol = tablet.create_protocol(TEMPLATE, assignment, {
        "number": f"TR-{secrets.token_hex(4)}", "started_at": "2026-11-20T10:00:00+05:00",
        "entity_tin": "301245678", "entity_name": "Chilonzor bozori MChJ",
        "site_address": "Toshkent, Chilonzor 7", "lead_inspector": tablet.inspector.id,
        "conclusion": "compliant"})
    with tablet.edit(protocol) as edit:
        row = edit.add_row("instruments", {"type": "scale", "serial": "SN-1"})
    return protocol, row


def reopened(tablet: Tablet, opened: list[Tablet], **options: Any) -> Tablet:
    """The same tablet file opened again with other options."""
    path = tablet.store.path
    tablet.close()
    opened.remove(tablet)
    again = Tablet(path, PASSPHRASE, **options)
    opened.append(again)
    return again


class Unreachable:
    """A blob transport with no network."""

    def __getattr__(self, name: str) -> Any:
        def offline(*_args: Any, **_kwargs: Any) -> Any:
            raise Offline("no network")

        return offline


