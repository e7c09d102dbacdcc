"""Second half (after 0009 cleared dangling ids): `datastream` of rules and alerts becomes a
foreign key to Datastream (same column, `datastream_id`; the constraint is added, existing rows
already satisfy it). Rules: deleting the datastream deactivates them (`deactivate_rules`);
alerts: SET_NULL. Plus what the escalation and webhook pages need: channels per escalation
level, an event filter and the reason an endpoint was disabled, a delivery's next retry time."""

import datahub.models.monitoring
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datahub', '0009_alert_datastream_orphans'),
    ]

    operations = [
        migrations.AddField(
            model_name='escalationlevel',
            name='channels',
            field=models.JSONField(blank=True, default=list, help_text="Channel codes (in_app, email); empty: every channel. Each user's preferences still apply.", verbose_name='channels'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='next attempt'),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='disabled_reason',
            field=models.CharField(blank=True, max_length=300, verbose_name='why disabled'),
        ),
        migrations.AddField(
            model_name='webhookendpoint',
            name='events',
            field=models.JSONField(blank=True, default=list, help_text='Event codes (alert.raised, alert.cleared); empty: every event', verbose_name='events'),
        ),
        migrations.AlterField(
            model_name='alert',
            name='datastream',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='alerts', to='datahub.datastream', verbose_name='datastream'),
        ),
        migrations.AlterField(
            model_name='alertrule',
            name='datastream',
            field=models.ForeignKey(blank=True, help_text='Only this datastream. Deleting the datastream deactivates the rule.', null=True, on_delete=datahub.models.monitoring.deactivate_rules, related_name='alert_rules', to='datahub.datastream', verbose_name='datastream'),
        ),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='disabled_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='disabled at'),
        ),
    ]
