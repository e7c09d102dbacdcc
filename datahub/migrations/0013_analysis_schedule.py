"""Beat jobs of analysis (editable in the admin): situations every hour, the daily city briefing
at 07:00 city time."""

from django.conf import settings
from django.db import migrations


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name="datahub.analysis_detect_situations",
        defaults={"task": "datahub.analysis_detect_situations", "interval": hourly},
    )
    seven, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name="datahub.analysis_daily_briefing",
        defaults={"task": "datahub.analysis_daily_briefing", "crontab": seven},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=["datahub.analysis_detect_situations", "datahub.analysis_daily_briefing"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("datahub", "0012_analysis"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(schedule, unschedule)]
