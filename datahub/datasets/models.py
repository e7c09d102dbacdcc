"""The government dataset catalogue: datasets, their schema, versions, records and imports.

Records are stored once per *state*: a row of `DatasetRecord` is valid from the version that
wrote it (`version_from`) until the version that changed or removed it (`version_to`, NULL while
current). The state of a dataset at version v is every record with
`version_from <= v AND (version_to IS NULL OR version_to > v)`, so any two versions can be
compared in SQL by primary key, and an import that changes 1% of a dataset writes 1% of rows.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from datahub.core.models import Area, Department, Entity, Run, Source


class Dataset(models.Model):
    class Level(models.TextChoices):
        PUBLIC = "public", _("Public")
        INTERNAL = "internal", _("Internal")
        RESTRICTED = "restricted", _("Restricted")

    class Frequency(models.TextChoices):
        REALTIME = "realtime", _("Real time")
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")
        QUARTERLY = "quarterly", _("Quarterly")
        YEARLY = "yearly", _("Yearly")
        IRREGULAR = "irregular", _("Irregular")

    slug = models.SlugField(_("identifier"), max_length=100, unique=True)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    owner_department = models.ForeignKey(
        Department, verbose_name=_("owner department"), on_delete=models.PROTECT, related_name="datasets"
    )
    tags = ArrayField(models.CharField(max_length=50), verbose_name=_("tags"), default=list, blank=True)
    update_frequency = models.CharField(
        _("update frequency"), max_length=16, choices=Frequency.choices, default=Frequency.IRREGULAR
    )
    licence = models.CharField(_("licence"), max_length=200, blank=True)
    level = models.CharField(_("classification level"), max_length=16, choices=Level.choices, default=Level.INTERNAL)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.SET_NULL, related_name="datasets"
    )
    # How rows are located to areas: {"lon": col, "lat": col} | {"wkt": col} | {"geometry": col},
    # plus optional {"area_name": col, "address": col}. Set from the confirmed import.
    location = models.JSONField(_("location columns"), default=dict, blank=True)
    # Which entity each row names (entity resolution after every import), validated by
    # datahub.datasets.services.entities.entity_mapping_clean: {"type": "enterprise", "name_field": col,
    # "name_en_field": col|None, "id_field": col|None, "id_scheme": str|None}; {} = rows are not linked.
    entity_mapping = models.JSONField(_("entity mapping"), default=dict, blank=True)
    current_version = models.PositiveIntegerField(_("current version"), default=0)
    row_count = models.PositiveBigIntegerField(_("rows"), default=0)
    is_geographic = models.BooleanField(_("geographic"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ["title", "id"]
        indexes = [GinIndex(fields=["tags"], name="dataset_tags_gin")]

    def __str__(self) -> str:
        return self.title


class DatasetField(models.Model):
    """One column of a dataset's schema."""

    class Type(models.TextChoices):
        STRING = "string", _("Text")
        INTEGER = "integer", _("Integer")
        DECIMAL = "decimal", _("Decimal")
        BOOLEAN = "boolean", _("Boolean")
        DATE = "date", _("Date")
        DATETIME = "datetime", _("Date and time")
        GEOMETRY = "geometry", _("Geometry")
        JSON = "json", _("JSON")

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="fields")
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.STRING)
    # The input format a date/datetime column was read with (e.g. "%d/%m/%Y"): re-imports use it.
    format = models.CharField(_("format"), max_length=40, blank=True)
    unit = models.CharField(_("unit"), max_length=40, blank=True)
    required = models.BooleanField(_("required"), default=False)
    is_primary_key = models.BooleanField(_("primary key"), default=False)
    description = models.CharField(_("description"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("dataset field")
        verbose_name_plural = _("dataset fields")
        ordering = ["dataset", "position"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="dataset_field_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class DatasetImport(models.Model):
    """One uploaded file on its way into a dataset: preview, confirmation, run, result."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Succeeded, invalid rows skipped")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Mode(models.TextChoices):
        UPSERT = "upsert", _("Add and update rows (upsert by primary key)")
        REPLACE = "replace", _("Replace: rows missing from the file are removed")

    class OnError(models.TextChoices):
        ABORT = "abort", _("Import nothing if any row is invalid")
        SKIP = "skip", _("Skip invalid rows")

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(_("file"), upload_to="dataset_imports/%Y/%m/", max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    format = models.CharField(_("format"), max_length=16)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    delimiter = models.CharField(_("separator"), max_length=4, blank=True)
    schema = models.JSONField(_("schema"), default=list, blank=True)
    location = models.JSONField(_("location columns"), default=dict, blank=True)
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.UPSERT)
    on_error = models.CharField(_("on invalid rows"), max_length=16, choices=OnError.choices, default=OnError.ABORT)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    progress = models.FloatField(_("progress"), default=0.0)
    message = models.TextField(_("message"), blank=True)
    rows_read = models.PositiveBigIntegerField(_("rows read"), default=0)
    rows_valid = models.PositiveBigIntegerField(_("valid rows"), default=0)
    error_count = models.PositiveBigIntegerField(_("errors"), default=0)
    # The first errors, for the page; all of them are in `error_report` (CSV).
    errors = models.JSONField(_("first errors"), default=list, blank=True)
    error_report = models.FileField(_("error report"), upload_to="dataset_imports/errors/", blank=True, max_length=300)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.ForeignKey("DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("dataset import")
        verbose_name_plural = _("dataset imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} → {self.dataset} ({self.status})"


class DatasetVersion(models.Model):
    """What one import did to a dataset: counts of added, changed and removed rows."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    schema = models.JSONField(_("schema"), default=list, blank=True)
    mode = models.CharField(_("mode"), max_length=16, blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    rows_added = models.PositiveBigIntegerField(_("added"), default=0)
    rows_changed = models.PositiveBigIntegerField(_("changed"), default=0)
    rows_removed = models.PositiveBigIntegerField(_("removed"), default=0)
    row_count = models.PositiveBigIntegerField(_("rows"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("dataset version")
        verbose_name_plural = _("dataset versions")
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_unique")]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"


class DatasetRecord(models.Model):
    """One state of one row of a dataset (see the module docstring for versioning)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="records")
    key = models.CharField(_("key"), max_length=300)
    data = models.JSONField(_("data"), default=dict)
    # spatial_index=True (the default): a GiST index for bbox, within-area and the area join.
    geom = models.GeometryField(_("geometry"), srid=4326, null=True, blank=True)
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # How sure the resolution was (1.0 identifier or new entity, 0.95–0.60 name and place).
    entity_confidence = models.FloatField(_("entity confidence"), null=True, blank=True)
    version_from = models.PositiveIntegerField(_("valid from version"))
    version_to = models.PositiveIntegerField(_("valid until version"), null=True, blank=True)
    row_number = models.PositiveIntegerField(_("row in file"), default=0)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    search = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("dataset record")
        verbose_name_plural = _("dataset records")
        ordering = ["dataset", "key"]
        indexes = [
            models.Index(fields=["dataset", "version_from"], name="dsrec_version_from"),
            models.Index(fields=["dataset", "version_to"], name="dsrec_version_to"),
            # A 32 MB pending list (default 4 MB): a 100k-row import appends to it and autovacuum
            # merges it in the background, instead of the import merging it row batch by batch.
            GinIndex(
                fields=["data"],
                name="dsrec_data_gin",
                opclasses=["jsonb_path_ops"],
                fastupdate=True,
                gin_pending_list_limit=32768,
            ),
            GinIndex(fields=["search"], name="dsrec_search_gin", fastupdate=True, gin_pending_list_limit=32768),
            models.Index(fields=["area"], name="dsrec_area"),
        ]
        constraints = [
            # One current state per key; historical states are many.
            models.UniqueConstraint(
                fields=["dataset", "key"], condition=Q(version_to__isnull=True), name="dsrec_current_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.key}@{self.version_from}"
