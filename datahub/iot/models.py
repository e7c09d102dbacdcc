"""IoT: devices (entities of type "device"), their datastreams and the observation store.

Observations live in a table partitioned by month on `time` (created by the `iot` migration
with RunSQL, not by Django): one B-tree primary key per partition on (datastream_id, time),
which makes ingestion idempotent, and a BRIN index on time (a few KB per month instead of the
~30 MB a B-tree on time would take at 1M rows). `Observation` maps it read-only (managed=False).
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import ExpressionWrapper, F
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from datahub.core.models import Area, Department, Entity, Run, Source

# A device is "online" while its last reading is younger than this many expected intervals:
# 3 means two consecutive missed reports are tolerated before it shows as offline.
ONLINE_GRACE_INTERVALS = 3


class DeviceQuerySet(models.QuerySet):
    def _online_since(self):
        return ExpressionWrapper(
            Now() - F("expected_interval_s") * timedelta(seconds=ONLINE_GRACE_INTERVALS),
            output_field=models.DateTimeField(),
        )

    def online(self):
        return self.alias(online_since=self._online_since()).filter(last_seen_at__gte=F("online_since"))

    def offline(self):
        return self.alias(online_since=self._online_since()).exclude(last_seen_at__gte=F("online_since"))


class Device(models.Model):
    """A sensor or meter: one datahub Entity (type "device") plus what ingestion needs."""

    class Type(models.TextChoices):
        AIR_QUALITY = "air_quality", _("Air quality station")
        WATER_LEVEL = "water_level", _("Water level gauge")
        TRAFFIC_FLOW = "traffic_flow", _("Traffic detector")
        NOISE = "noise", _("Noise monitor")
        PARKING = "parking", _("Parking occupancy sensor")
        ELECTRICITY = "electricity", _("Electricity meter")
        WEATHER = "weather", _("Weather station")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")

    entity = models.OneToOneField(Entity, verbose_name=_("entity"), on_delete=models.CASCADE, related_name="device")
    key = models.SlugField(_("device key"), max_length=64, unique=True, help_text=_("Used in MQTT topics"))
    device_type = models.CharField(_("type"), max_length=32, choices=Type.choices, db_index=True)
    model = models.CharField(_("model"), max_length=100, blank=True)
    point = models.PointField(_("location"), srid=4326, null=True, blank=True)
    area = models.ForeignKey(Area, verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL)
    owner_department = models.ForeignKey(
        Department, verbose_name=_("owner department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    expected_interval_s = models.PositiveIntegerField(_("expected reporting interval (s)"), default=60)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, db_index=True)
    # sha256 of the device secret: secrets are 32 random bytes, so a slow password hash adds
    # nothing but ~50 ms per authenticated request.
    credential_hash = models.CharField(max_length=64, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The MQTT broker's copy (Mosquitto dynamic security: client = key, password = secret).
    # The secret, encrypted (Fernet): the broker takes passwords in clear text only, and the
    # reconcile job must be able to restore a client the broker lost.
    mqtt_secret = models.TextField(blank=True, editable=False)
    # Every change the broker must learn of (registered, secret rotated, switched on or off)
    # increments broker_revision; the sync that the broker confirmed records it as synced.
    broker_revision = models.PositiveIntegerField(default=1, editable=False)
    broker_synced_revision = models.PositiveIntegerField(default=0, editable=False)
    broker_synced_at = models.DateTimeField(_("synced with the MQTT broker"), null=True, blank=True, editable=False)
    broker_error = models.CharField(_("MQTT broker error"), max_length=300, blank=True, editable=False)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def broker_synced(self) -> bool:
        """The broker has this device's current credentials and state."""
        return self.broker_synced_revision == self.broker_revision

    @property
    def status(self) -> str:
        if self.last_seen_at is None:
            return self.Status.OFFLINE
        grace = timedelta(seconds=self.expected_interval_s * ONLINE_GRACE_INTERVALS)
        return self.Status.ONLINE if timezone.now() - self.last_seen_at <= grace else self.Status.OFFLINE


class Datastream(models.Model):
    """One metric of one device (PM2.5 of station X), with its unit and valid range."""

    device = models.ForeignKey(Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="datastreams")
    metric = models.SlugField(_("metric"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    observed_property = models.CharField(_("observed property"), max_length=100)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    valid_min = models.FloatField(_("valid minimum"), null=True, blank=True)
    valid_max = models.FloatField(_("valid maximum"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("datastream")
        verbose_name_plural = _("datastreams")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["device", "metric"], name="datastream_device_metric_unique")]

    def __str__(self) -> str:
        return f"{self.device_id}:{self.metric}"


class Observation(models.Model):
    """Read-only map of the partitioned `datahub_observation` table (written only by COPY)."""

    pk = models.CompositePrimaryKey("datastream_id", "time")
    datastream = models.ForeignKey(Datastream, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    time = models.DateTimeField(_("time"))
    value = models.FloatField(_("value"))
    # Lineage: the Run that stored the reading (its Source through the run). No FK constraint in
    # the database (migration 0007_observation_lineage says why); null for readings stored before
    # lineage existed or by a raw bulk load.
    run = models.ForeignKey(
        Run, verbose_name=_("run"), null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        managed = False
        db_table = "datahub_observation"
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        ordering = ["datastream_id", "time"]


class ObservationLatest(models.Model):
    """The newest reading of each datastream, upserted in the ingest transaction (dashboards)."""

    datastream = models.OneToOneField(
        Datastream, primary_key=True, on_delete=models.CASCADE, related_name="latest", verbose_name=_("datastream")
    )
    time = models.DateTimeField(_("time"))
    value = models.FloatField(_("value"))

    class Meta:
        db_table = "datahub_observation_latest"
        verbose_name = _("latest observation")
        verbose_name_plural = _("latest observations")
        ordering = ["datastream_id"]


class ObservationRollup(models.Model):
    """count/sum/min/max per datastream and minute/hour/day bucket, merged as readings arrive.

    Resends never double count: only rows the ingest INSERT actually stored (first-wins) are
    merged, so a late reading simply adds to its old bucket. mean = sum / count.
    """

    class Resolution(models.TextChoices):
        MINUTE = "minute", _("Minute")
        HOUR = "hour", _("Hour")
        DAY = "day", _("Day")

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (datastream, resolution, bucket) constraint leads with it, and
    # every ingest batch updates thousands of rows (one index less to maintain).
    datastream = models.ForeignKey(Datastream, on_delete=models.CASCADE, related_name="rollups", db_index=False)
    resolution = models.CharField(_("resolution"), max_length=8, choices=Resolution.choices)
    bucket = models.DateTimeField(_("bucket start"))
    count = models.BigIntegerField(_("count"))
    sum = models.FloatField(_("sum"))
    min = models.FloatField(_("minimum"))
    max = models.FloatField(_("maximum"))

    class Meta:
        db_table = "datahub_observation_rollup"
        verbose_name = _("observation rollup")
        verbose_name_plural = _("observation rollups")
        ordering = ["datastream_id", "resolution", "bucket"]
        constraints = [
            models.UniqueConstraint(fields=["datastream", "resolution", "bucket"], name="observation_rollup_unique")
        ]

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else 0.0


class IngestBatch(models.Model):
    """One committed ingest batch (HTTP request, MQTT flush, import chunk): the ingest monitor's data."""

    class Channel(models.TextChoices):
        HTTP = "http", _("HTTP batch")
        MQTT = "mqtt", _("MQTT")
        IMPORT = "import", _("File import")
        OTHER = "other", _("Other")

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, db_index=True)
    committed_at = models.DateTimeField(_("committed"), default=timezone.now, db_index=True)
    received = models.PositiveIntegerField(_("received"), default=0)
    stored = models.PositiveIntegerField(_("stored"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    duration_ms = models.FloatField(_("duration (ms)"), default=0)
    # Seconds between the newest reading's time and the commit: how far behind the devices we are.
    lag_s = models.FloatField(_("lag (s)"), null=True, blank=True)
    errors = models.JSONField(_("sample of errors"), default=list, blank=True)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        Run, verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")
        ordering = ["-committed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.committed_at:%H:%M:%S} +{self.stored}"


class SeriesImport(models.Model):
    """One uploaded file of historical readings: preview, column mapping, run in the worker, result.

    The run itself (counts, errors, checkpoint, heartbeat) is the `run`; this row keeps the file,
    what the user chose and the lifecycle the pages show. `attempt` is the lease: every (re)start
    of the work increments it, and a chunk commits only while its attempt is still the current one,
    so a worker presumed dead that wakes up cannot write on top of the one that resumed it.
    """

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Succeeded, invalid values skipped")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    file = models.FileField(_("file"), upload_to="series_imports/%Y/%m/", max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    delimiter = models.CharField(_("separator"), max_length=4, blank=True)
    # {"columns": [...], "rows": [[...], ...] (first rows), "suggested": {mapping}, "notes": [...]}
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    # The confirmed column mapping (datahub.iot.services.csv_import.ColumnMapping as JSON).
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    message = models.TextField(_("message"), blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    attempt = models.PositiveIntegerField(_("attempt"), default=0)
    run = models.ForeignKey(
        Run, verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL, related_name="series_imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("series import")
        verbose_name_plural = _("series imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="seriesimport_status")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


# The ingest batch's figures and lineage, as the admin list and the API show them (one list).
INGEST_BATCH_FIELDS = [
    "id",
    "channel",
    "committed_at",
    "received",
    "stored",
    "duplicates",
    "rejected",
    "duration_ms",
    "lag_s",
    "source",
    "run",
]
