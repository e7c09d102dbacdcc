"""Beat job: look for negative-sentiment spikes every 15 minutes (editable in the admin)."""

from django.db import migrations


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="datahub.opinion_detect_spikes", defaults={"task": "datahub.opinion_detect_spikes", "interval": every}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="datahub.opinion_detect_spikes").delete()


class Migration(migrations.Migration):
    dependencies = [("datahub", "0003_topic_rules_seed"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(schedule, unschedule)]
