"""Periodic jobs of the industry wing (nightly risk and matching) as django-celery-beat rows."""

from django.db import migrations


def create(apps, schema_editor):
    from industry.services.schedule import beat_schedule_ensure

    beat_schedule_ensure(apps=apps)


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        task__in=["industry.risk_recompute", "industry.match"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("industry", "0002_industry_codes_and_tags"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
