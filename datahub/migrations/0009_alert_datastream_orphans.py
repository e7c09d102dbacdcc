"""First half of turning `AlertRule.datastream_id` and `Alert.datastream_id` (plain bigints) into
foreign keys to `Datastream` (0010): rename the fields in Django's state only (the column stays
`datastream_id`), and clear ids that point at datastreams which no longer exist, so adding the
constraint cannot fail.

A rule whose datastream is gone is also deactivated: with its datastream NULL it would otherwise
watch every datastream of its metric. Alerts keep their history (subject_key still names the
datastream). Kept apart from 0010: PostgreSQL refuses to ALTER a table with pending trigger
events from UPDATEs in the same transaction.
"""

from django.db import migrations, models

ORPHAN_RULES = """
UPDATE datahub_alertrule r SET datastream_id = NULL, is_active = false
WHERE r.datastream_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM datahub_datastream d WHERE d.id = r.datastream_id)
"""
ORPHAN_ALERTS = """
UPDATE datahub_alert a SET datastream_id = NULL
WHERE a.datastream_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM datahub_datastream d WHERE d.id = a.datastream_id)
"""


class Migration(migrations.Migration):
    dependencies = [("datahub", "0008_merge_20261124_2047")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="alertrule", name="datastream_id"),
                migrations.AddField(
                    model_name="alertrule",
                    name="datastream",
                    field=models.BigIntegerField(blank=True, null=True, db_index=True, db_column="datastream_id"),
                ),
                migrations.RemoveField(model_name="alert", name="datastream_id"),
                migrations.AddField(
                    model_name="alert",
                    name="datastream",
                    field=models.BigIntegerField(blank=True, null=True, db_column="datastream_id"),
                ),
            ]
        ),
        migrations.RunSQL(ORPHAN_RULES, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(ORPHAN_ALERTS, reverse_sql=migrations.RunSQL.noop),
    ]
