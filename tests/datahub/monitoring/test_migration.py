"""The migration that turns the rules' and alerts' datastream ids into foreign keys keeps every
row: ids of datastreams that no longer exist become NULL (and such rules are switched off)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from datahub.models import Alert, AlertRule
from tests.datahub.iot.factories import make_device

BEFORE = [("datahub", "0008_merge_20261124_2047")]


@pytest.mark.django_db(transaction=True)
def test_it_turns_datastream_ids_into_foreign_keys_clearing_the_dangling_ones():
    _device, streams, _secret = make_device()
    live = streams["pm25"].id
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        rule_model, alert_model = old.get_model("datahub", "AlertRule"), old.get_model("datahub", "Alert")
        kept = rule_model.objects.create(name="kept", kind="threshold", metric="pm25", datastream_id=live)
        orphan = rule_model.objects.create(name="orphan", kind="threshold", metric="pm25", datastream_id=live + 10_000)
        now = timezone.now()
        alerts = {
            ds: alert_model.objects.create(
                rule_id=kept.id, subject_key=f"ds:{ds}", datastream_id=ds, severity="major", title="t", raised_at=now
            ).id
            for ds in (live, live + 10_000)
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        # Forward to every leaf, not just the FK migration: going back to BEFORE also unapplied
        # the other branches merged after it, and later tests need the whole schema.
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert AlertRule.objects.get(id=kept.id).datastream_id == live
    assert AlertRule.objects.get(id=kept.id).is_active
    orphan = AlertRule.objects.get(id=orphan.id)
    # NULL alone would widen the rule to every pm25 datastream: it is switched off as well.
    assert (orphan.datastream_id, orphan.is_active) == (None, False)
    assert Alert.objects.get(id=alerts[live]).datastream_id == live
    gone = Alert.objects.get(id=alerts[live + 10_000])
    assert gone.datastream_id is None and gone.subject_key == f"ds:{live + 10_000}"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])"
            " AND confrelid = 'datahub_datastream'::regclass",
            [["datahub_alertrule", "datahub_alert"]],
        )
        assert cur.fetchone()[0] == 2
