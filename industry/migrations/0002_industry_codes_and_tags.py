"""Load the GB/T 4754-2017 sections and divisions (industry/data/gbt4754_2017.csv) and the usual
enterprise tags (industry.services.reference)."""

from django.db import migrations


def load(apps, schema_editor):
    from industry.services.reference import reference_data_ensure

    reference_data_ensure(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("industry", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
