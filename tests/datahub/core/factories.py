"""Datahub factories: areas as squares, entities, sources and events with unique defaults."""

import itertools

from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.utils import timezone

from datahub.core.normalize import normalize_name
from datahub.models import Area, Entity, EntityIdentifier, Event, Source

_seq = itertools.count(1)


def square(x0: float, y0: float, size: float) -> MultiPolygon:
    return MultiPolygon(
        Polygon(((x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0))), srid=4326
    )


def make_area(*, level="district", parent=None, box=None, **kw) -> Area:
    n = next(_seq)
    geometry = square(*box) if box else kw.pop("geometry", None)
    return Area.objects.create(
        code=kw.pop("code", f"T{n:06d}"),
        name=kw.pop("name", f"测试区{n}"),
        level=level,
        parent=parent,
        geometry=geometry,
        **kw,
    )


def make_source(**kw) -> Source:
    n = next(_seq)
    return Source.objects.create(
        code=kw.pop("code", f"src-{n}"), name=kw.pop("name", f"Source {n}"), kind=kw.pop("kind", "government"), **kw
    )


def make_entity(*, type="facility", name=None, lon=None, lat=None, identifiers=None, **kw) -> Entity:  # noqa: A002
    n = next(_seq)
    name = name or f"设施{n}"
    e = Entity.objects.create(
        type=type,
        name=name,
        normalized_name=normalize_name(name),
        geometry=Point(lon, lat, srid=4326) if lon is not None else None,
        **kw,
    )
    for scheme, value in (identifiers or {}).items():
        EntityIdentifier.objects.create(entity=e, scheme=scheme, value=value)
    return e


def make_event(*, type="case.created", occurred_at=None, **kw) -> Event:  # noqa: A002
    return Event.objects.create(type=type, occurred_at=occurred_at or timezone.now(), **kw)
