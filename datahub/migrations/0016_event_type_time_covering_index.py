"""The event log's (type, occurred_at) index also covers `location` and `id` (the cockpit's map layers
read it by an index-only scan). Built concurrently, so a live event log keeps taking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("datahub", "0015_search_partial_text_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="event",
            index=models.Index(fields=["type", "occurred_at"], include=["location", "id"], name="event_type_time_loc"),
        ),
        RemoveIndexConcurrently(
            model_name="event",
            name="datahub_eve_type_843237_idx",
        ),
    ]
