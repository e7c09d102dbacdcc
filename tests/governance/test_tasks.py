import pytest

from governance.models import SupervisionOrder
from governance.services.cases import case_create
from tests.governance.factories import MiniCity, local


@pytest.mark.celery_worker
def test_it_runs_the_sla_scan_in_a_real_worker(transactional_db, celery_worker_process):
    from governance.tasks import sla_scan_task

    city = MiniCity()
    case = case_create(channel="api", title="噪音", lon=city.P1[0], lat=city.P1[1], now=local(2020, 1, 6, 9, 0))
    result = sla_scan_task.delay().get(timeout=30)
    assert result["escalated"] == 1
    assert SupervisionOrder.objects.filter(case=case, kind="escalation").count() == 1
    assert sla_scan_task.delay().get(timeout=30)["escalated"] == 0


def test_it_schedules_the_clocks_in_beat_once(db):
    from django_celery_beat.models import PeriodicTask

    from governance.services.schedule import beat_schedule_ensure

    beat_schedule_ensure()
    assert beat_schedule_ensure() == 0
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"governance.sla_scan", "governance.train_classifier"} <= tasks
