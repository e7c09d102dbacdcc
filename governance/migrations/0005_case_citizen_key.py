"""Every case gets an unguessable citizen link key (issue 11): tracking numbers are sequential.

Existing cases are backfilled in one UPDATE (not row by row): 32 random bytes from two
gen_random_uuid() calls (PostgreSQL 13+, a cryptographic source; 244 random bits), base64url
without padding — 43 characters.
"""

from django.db import migrations, models

import governance.models.cases

BACKFILL = r"""
UPDATE governance_case SET citizen_key = rtrim(translate(encode(decode(
    replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'
), 'base64'), '+/', '-_'), '=')
WHERE citizen_key IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_case_open_department_index")]

    operations = [
        migrations.AddField(
            model_name="case",
            name="citizen_key",
            field=models.CharField(editable=False, max_length=64, null=True, verbose_name="citizen link key"),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="case",
            name="citizen_key",
            field=models.CharField(
                default=governance.models.cases.citizen_key_new,
                editable=False,
                max_length=64,
                unique=True,
                verbose_name="citizen link key",
            ),
        ),
    ]
