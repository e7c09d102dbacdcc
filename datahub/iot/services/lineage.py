"""Lineage of IoT observations: the Source and Run every live ingest channel stamps on its readings.

File imports open one Run per file (iot_import). The two live channels have no natural "run":
- the MQTT bridge opens one Run per bridge session (source "iot-mqtt"), updates its counts as it
  goes and finishes it on shutdown;
- the HTTP batch API uses one Run per local day (source "iot-http"): a request finds or creates
  today's run and adds its counts. A run per request would be ~86,400 runs a day for one device
  reporting every second; a day keeps the run list readable and still dates every reading.
"""

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from datahub.core.models import Run, Source

MQTT_SOURCE = "iot-mqtt"
HTTP_SOURCE = "iot-http"


def iot_source_ensure(*, code: str, name: str, connector: str) -> int:
    """The id of the IoT channel source `code`, created on first use (race safe: `code` is unique)."""
    source, _ = Source.objects.get_or_create(
        code=code, defaults={"name": name, "kind": Source.Kind.IOT, "connector": connector}
    )
    return source.id


def mqtt_session_run_start() -> tuple[int, int]:
    """Open the Run of one MQTT bridge session -> (source_id, run_id)."""
    source_id = iot_source_ensure(code=MQTT_SOURCE, name="IoT MQTT bridge", connector="mqtt")
    run = Run.objects.create(source_id=source_id, status=Run.Status.RUNNING, started_at=timezone.now())
    return source_id, run.id


def http_day_run(*, day: date | None = None) -> tuple[int, int]:
    """Today's (local day) HTTP ingest run -> (source_id, run_id), found or created race safe.

    Two requests racing at midnight both try to create the day's run; the partial unique
    constraint (source, window_date) lets one win and get_or_create re-reads it for the other.
    Creating a new day's run finishes the earlier days' runs still open.
    """
    day = day or timezone.localdate()
    source_id = iot_source_ensure(code=HTTP_SOURCE, name="IoT HTTP batch ingest", connector="http")
    # get_or_create creates in a savepoint and, on the IntegrityError of a lost race, reads the winner.
    run, created = Run.objects.get_or_create(
        source_id=source_id,
        window_date=day,
        defaults={"status": Run.Status.RUNNING, "started_at": timezone.now()},
    )
    if created:
        Run.objects.filter(
            source_id=source_id, window_date__lt=day, status__in=(Run.Status.PENDING, Run.Status.RUNNING)
        ).update(status=Run.Status.SUCCEEDED, finished_at=timezone.now(), progress=1.0)
    return source_id, run.id


def run_counts_add(*, run_id: int, read: int = 0, stored: int = 0, rejected: int = 0) -> None:
    """Add a batch's counts to a run that many batches share (one atomic UPDATE, no read-modify-write).

    Called after the batch's own transaction: the run row is locked only for this statement, so
    concurrent HTTP requests do not queue behind each other's whole ingest transaction.
    """
    with transaction.atomic():
        Run.objects.filter(id=run_id).update(
            rows_read=F("rows_read") + read,
            rows_stored=F("rows_stored") + stored,
            rows_rejected=F("rows_rejected") + rejected,
        )
