"""Factories of the livelihood tests: small functions building valid objects with unique defaults."""

import itertools
from datetime import time

from livelihood.models import Office, PublishStatus, Service, SlotTemplate
from livelihood.services.facilities import facilities_upsert

_seq = itertools.count(1)
WEEKDAYS_9_TO_5 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def make_facilities(points, *, type="library", hours=None, always_open=False, prefix=None):  # noqa: A002
    prefix = prefix or f"t{next(_seq)}"
    rows = [
        {
            "key": f"{prefix}:{i}",
            "name": f"{type} {i}",
            "lon": lon,
            "lat": lat,
            "hours": hours if hours is not None else WEEKDAYS_9_TO_5,
            "always_open": always_open,
        }
        for i, (lon, lat) in enumerate(points)
    ]
    facilities_upsert(rows=rows, type=type)
    from livelihood.models import Facility

    return list(Facility.objects.filter(key__startswith=f"{prefix}:").order_by("id"))


def make_service(*, department, bookable=True, status=PublishStatus.PUBLISHED, **kw) -> Service:
    n = next(_seq)
    return Service.objects.create(
        code=kw.pop("code", f"SVC-{n:04d}"),
        name=kw.pop("name", f"事项{n}"),
        department=department,
        bookable=bookable,
        status=status,
        **kw,
    )


def make_office(*, department, services, capacity=10, slot_minutes=30, **kw) -> Office:
    n = next(_seq)
    office = Office.objects.create(code=f"OFF-{n}", name=f"政务服务中心{n}", department=department, **kw)
    office.services.set(services)
    for wd in range(7):
        SlotTemplate.objects.create(
            office=office, weekday=wd, start=time(9), end=time(17), slot_minutes=slot_minutes, capacity=capacity
        )
    return office
