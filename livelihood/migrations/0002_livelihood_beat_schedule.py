"""Periodic jobs of the livelihood wing as django-celery-beat rows."""

from django.db import migrations


def create(apps, schema_editor):
    from livelihood.services.schedule import beat_schedule_ensure

    beat_schedule_ensure(apps=apps)


def remove(apps, schema_editor):
    from livelihood.services.schedule import JOBS

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__in=[j[1] for j in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("livelihood", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
