"""Migration governance 0005 gives every existing case its own citizen link key, in one UPDATE."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from governance.models import Case

BEFORE = [("governance", "0004_case_open_department_index")]


@pytest.mark.django_db(transaction=True)
def test_it_backfills_a_distinct_unguessable_key_for_every_existing_case():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps.get_model("governance", "Case")
        now = timezone.now()
        old.objects.bulk_create(
            old(tracking_number=f"MIG-{i}", channel="api", title="t", created_at=now) for i in range(50)
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    keys = list(Case.objects.filter(tracking_number__startswith="MIG-").values_list("citizen_key", flat=True))
    assert len(keys) == 50 and len(set(keys)) == 50
    assert all(len(k) == 43 and k.replace("-", "").replace("_", "").isalnum() for k in keys)
