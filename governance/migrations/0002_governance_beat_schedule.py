"""Periodic jobs of governance as django-celery-beat rows."""

from django.db import migrations


def create(apps, schema_editor):
    from governance.services.schedule import beat_schedule_ensure

    beat_schedule_ensure(apps=apps)


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=["governance.sla_scan", "governance.train_classifier"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0001_governance_core"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
