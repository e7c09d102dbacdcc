from django.db import migrations

PLANS = [
    # name, per second (burst), per minute, per day
    ("free", 5, 60, 10_000),
    ("standard", 20, 600, 200_000),
    ("partner", 100, 6_000, 5_000_000),
]


def forwards(apps, schema_editor):
    ApiPlan = apps.get_model("cityos", "ApiPlan")
    for name, ps, pm, pd in PLANS:
        ApiPlan.objects.get_or_create(name=name, defaults={"per_second": ps, "per_minute": pm, "per_day": pd})
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="cityos: flush API usage counters",
        defaults={"task": "cityos.api_usage_flush", "interval": every_minute, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="cityos: flush API usage counters").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cityos", "0003_open_platform_keys"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
