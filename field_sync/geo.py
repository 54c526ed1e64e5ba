"""Distances on the ground, to the millimetre, between a site and a fix given as decimal
strings (as signed data carries them)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from geopy.distance import geodesic

__all__ = ["decimal_or_none", "distance_m"]


def decimal_or_none(text: str | None) -> Decimal | None:
    """``text`` as a finite decimal, or None."""
    try:
        number = Decimal(text) if text is not None else None
    except (InvalidOperation, TypeError):
        return None
    return number if number is not None and number.is_finite() else None


def distance_m(from_lat: Decimal, from_lon: Decimal, to_lat: Decimal,
               to_lon: Decimal) -> Decimal:
    """The geodesic distance in metres, rounded to the millimetre: a fix exactly on a
    boundary must not fall out on float noise."""
    return Decimal(str(round(geodesic((from_lat, from_lon), (to_lat, to_lon)).meters, 3)))
