"""Cheaper rollup and latest-value merges on the ingest path.

- The rollup's datastream index is dropped: the unique (datastream, resolution, bucket)
  constraint leads with the same column.
- fillfactor 50 on the two tables every ingest batch updates in place: an update then finds room
  on its own page and becomes a HOT update (no index entries written, dead rows pruned in page).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("datahub", "0008_merge_20261124_2047"),
    ]

    operations = [
        migrations.AlterField(
            model_name="observationrollup",
            name="datastream",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="rollups",
                to="datahub.datastream",
            ),
        ),
        migrations.RunSQL(
            "ALTER TABLE datahub_observation_rollup SET (fillfactor = 50);"
            "ALTER TABLE datahub_observation_latest SET (fillfactor = 50);",
            "ALTER TABLE datahub_observation_rollup RESET (fillfactor);"
            "ALTER TABLE datahub_observation_latest RESET (fillfactor);",
        ),
    ]
