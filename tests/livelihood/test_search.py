from datetime import timedelta

import pytest
from django.utils import timezone

from livelihood.search import search_items
from livelihood.services.appointments import appointment_book, slots_generate
from livelihood.services.notices import notice_save, notice_set_status
from livelihood.services.reports import report_submit
from tests.livelihood.factories import make_facilities, make_office, make_service

pytestmark = pytest.mark.django_db
KEYS = {"kind", "key", "title", "title_en", "body", "body_en", "identifiers", "url", "time", "area_id", "lon", "lat",
        "department_id", "level", "facets"}  # fmt: skip


def test_search_items_cover_public_things_and_carry_no_personal_data(city):
    svc = make_service(department=city.urban, name="居住证办理", materials=[{"name": "租赁合同"}])
    make_service(department=city.urban, status="draft", name="草稿事项")
    [fac] = make_facilities([city.P1])
    n = notice_save(department_id=city.urban.id, title="停水", body="明天停水", area_ids=[city.grid1.id])
    notice_set_status(notice_id=n.id, status="published")
    office = make_office(department=city.urban, services=[svc])
    slots_generate(office_id=office.id, days=2, start=timezone.localdate() + timedelta(days=1))
    appointment_book(slot_id=office.slots.first().id, service_id=svc.id, name="张秘密", phone="13912345678")
    report_submit(category="noise", description="噪音很吵很吵", lon=city.P1[0], lat=city.P1[1], reporter_name="王隐私",
                  reporter_phone="13700000000")  # fmt: skip
    items = list(search_items())
    # Notices carry their publish and expiry dates: the index finds them only in between.
    assert all(set(i) - {"valid_from", "valid_until"} == KEYS and i["level"] == "public" for i in items)
    kinds = {(i["kind"], i["title"]) for i in items}
    assert ("livelihood_service", "居住证办理") in kinds and ("livelihood_facility", fac.name) in kinds
    assert ("livelihood_notice", "停水") in kinds and not any(t == "草稿事项" for _k, t in kinds)
    text = repr(items)
    for secret in ("张秘密", "13912345678", "王隐私", "13700000000"):
        assert secret not in text
    notice = next(i for i in items if i["kind"] == "livelihood_notice")
    assert notice["area_id"] == city.grid1.id and notice["url"] == f"/portal/notices/{n.id}/"
    n.refresh_from_db()
    assert (notice["valid_from"], notice["valid_until"]) == (n.publish_at, n.expires_at)
    only = list(search_items(ids={"livelihood_service": [svc.id]}))
    assert [i["key"] for i in only] == [str(svc.id)]
