from datetime import timedelta

import pytest

from governance.models import Case, SlaPolicy, SupervisionOrder
from governance.services.cases import case_create, case_transition
from governance.services.errors import CasePermissionDenied
from governance.services.supervision import sla_scan, supervision_answer, supervision_issue
from tests.governance.factories import local

pytestmark = pytest.mark.django_db
MON9 = local(2026, 11, 23, 9, 0)


def _case(city, **kw):
    return case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1], now=MON9, **kw)


def test_it_sets_the_deadline_from_the_category_policy(city):
    SlaPolicy.objects.create(category=city.environment, priority="", resolve_hours=9, warn_hours=2)
    SlaPolicy.objects.create(category=city.noise, priority="urgent", resolve_hours=2, warn_hours=1)
    normal = _case(city)
    urgent = _case(city, priority="urgent")
    # The parent's policy applies to noise at normal priority: 9 working hours = Tue 9:00... Mon 18:00.
    assert normal.due_at == local(2026, 11, 23, 18, 0) and normal.sla_hours == 9
    assert urgent.due_at == local(2026, 11, 23, 11, 0)


def test_it_warns_once_before_the_deadline(city):
    SlaPolicy.objects.create(category=None, priority="", resolve_hours=9, warn_hours=2)
    case = _case(city)
    assert sla_scan(now=local(2026, 11, 23, 15, 0)) == {"warned": 0, "escalated": 0, "supervision_overdue": 0}
    assert sla_scan(now=local(2026, 11, 23, 16, 30))["warned"] == 1
    assert sla_scan(now=local(2026, 11, 23, 16, 31))["warned"] == 0
    assert Case.objects.get(pk=case.pk).warned_at == local(2026, 11, 23, 16, 30)


def test_it_escalates_an_overdue_case_once_with_a_supervision_order(city):
    SlaPolicy.objects.create(category=None, priority="", resolve_hours=9, warn_hours=2)
    case = _case(city)
    later = local(2026, 11, 24, 10, 0)
    first, second = sla_scan(now=later), sla_scan(now=later)
    assert first["escalated"] == 1 and second["escalated"] == 0
    order = SupervisionOrder.objects.get(case=case)
    assert order.kind == "escalation" and order.department_id == city.urban.id
    # 8 working hours after Tue 10:00 -> Tue 18:00.
    assert order.due_at == local(2026, 11, 24, 18, 0)


def test_it_does_not_escalate_a_suspended_case(city):
    case = _case(city)
    case_transition(case_id=case.id, action="accept", actor=city.officer, now=MON9)
    case_transition(case_id=case.id, action="suspend", actor=city.officer, note="等待鉴定", now=MON9)
    assert sla_scan(now=case.due_at + timedelta(days=3))["escalated"] == 0


def test_it_marks_supervision_orders_overdue_once(city):
    case = _case(city)
    order = supervision_issue(case_id=case.id, actor=city.dispatcher, instruction="请今日回复", hours=1)
    after = order.due_at + timedelta(minutes=1)
    assert sla_scan(now=after)["supervision_overdue"] == 1
    assert sla_scan(now=after)["supervision_overdue"] == 0
    assert SupervisionOrder.objects.get(pk=order.pk).status == "overdue"


def test_only_supervisors_issue_and_only_handlers_answer(city):
    case = _case(city)
    with pytest.raises(CasePermissionDenied):
        supervision_issue(case_id=case.id, actor=city.officer, instruction="x")
    order = supervision_issue(case_id=case.id, actor=city.dispatcher, instruction="请说明进展")
    with pytest.raises(CasePermissionDenied):
        supervision_answer(order_id=order.id, actor=city.env_officer, answer="x")
    order = supervision_answer(order_id=order.id, actor=city.officer, answer="已安排夜查")
    assert order.status == "answered"


def test_it_records_late_resolution(city):
    case = _case(city)
    case_transition(case_id=case.id, action="accept", actor=city.officer, now=MON9)
    case = case_transition(
        case_id=case.id, action="resolve", actor=city.officer, note="ok", now=case.due_at + timedelta(hours=1)
    )
    assert case.resolved_on_time is False


def test_it_pushes_the_warning_live_to_the_department(city):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.test import TestCase

    from cityos.realtime import department_group

    SlaPolicy.objects.create(category=None, priority="", resolve_hours=9, warn_hours=2)
    case = _case(city)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(department_group(city.urban.id), channel)
    with TestCase.captureOnCommitCallbacks(execute=True):
        sla_scan(now=local(2026, 11, 23, 16, 30))
    msg = async_to_sync(layer.receive)(channel)
    assert msg["event"] == "governance.sla_warning" and msg["data"]["tracking_number"] == case.tracking_number
