"""The datahub's shared model: organisation, places, sources and lineage, entities, events.

Every other app points its foreign keys at these models and reads/writes them only through
`datahub.facade`.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cityos.i18n import local_name


class Department(models.Model):
    """A unit of the city government, as a tree: city -> bureaus -> offices.

    `path` is a materialised path of ids ("/1/4/9/") so a whole subtree is one indexed
    prefix query (`path__startswith`), which department scoping runs on every list view.
    """

    class Kind(models.TextChoices):
        CITY = "city", _("City government")
        BUREAU = "bureau", _("Bureau")
        OFFICE = "office", _("Office")
        DISTRICT = "district", _("District government")
        STREET = "street", _("Street office")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.BUREAU)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]

    def __str__(self) -> str:
        return local_name(self)  # name_en in English mode, when set

    def save(self, *args, **kwargs):
        # The path is derived data (not business logic): it must follow the parent on every save.
        super().save(*args, **kwargs)
        path = f"{self.parent.path if self.parent_id else '/'}{self.pk}/"
        if path != self.path:
            old = self.path
            Department.objects.filter(pk=self.pk).update(path=path)
            if old:
                for child in Department.objects.filter(path__startswith=old).exclude(pk=self.pk):
                    Department.objects.filter(pk=child.pk).update(path=path + child.path[len(old) :])
            self.path = path


class Area(models.Model):
    """An administrative area: city -> district -> street -> grid, with its boundary."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        DISTRICT = "district", _("District")
        STREET = "street", _("Street")
        COMMUNITY = "community", _("Community")
        GRID = "grid", _("Grid")
        OTHER = "other", _("Other")

    code = models.CharField(_("code"), max_length=64, unique=True, help_text=_("Official division code"))
    name = models.CharField(_("name"), max_length=200, db_index=True)
    name_en = models.CharField(_("English name"), max_length=200, blank=True, db_index=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    geometry = models.MultiPolygonField(_("boundary"), srid=4326, null=True, blank=True)
    centroid = models.PointField(_("centroid"), srid=4326, null=True, blank=True)
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]

    def __str__(self) -> str:
        return local_name(self)  # name_en in English mode, when set


class Source(models.Model):
    """Where data comes from: a registered government file/API, IoT channel or internet feed."""

    class Kind(models.TextChoices):
        GOVERNMENT = "government", _("Government data")
        IOT = "iot", _("IoT data")
        INTERNET = "internet", _("Internet data")
        APPLICATION = "application", _("Application feedback")

    code = models.SlugField(_("code"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    owner_department = models.ForeignKey(
        Department, verbose_name=_("owner department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    connector = models.CharField(_("connector"), max_length=64, blank=True, help_text=_("e.g. csv_upload, mqtt, rss"))
    config = models.JSONField(_("connector settings"), default=dict, blank=True)
    # Credentials are write-only: never serialised back by the API or shown in admin.
    credentials = models.JSONField(_("credentials"), default=dict, blank=True)
    schedule = models.ForeignKey(
        "django_celery_beat.PeriodicTask",
        verbose_name=_("schedule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One execution of a source's connector: what it read, stored and rejected (lineage)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Partially succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    source = models.ForeignKey(Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(_("rows read"), default=0)
    rows_stored = models.PositiveBigIntegerField(_("rows stored"), default=0)
    rows_rejected = models.PositiveBigIntegerField(_("rows rejected"), default=0)
    progress = models.FloatField(_("progress"), default=0.0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set only on runs that collect a continuous channel per local day (HTTP observation ingest):
    # the unique constraint makes the find-or-create of "today's run" race safe.
    window_date = models.DateField(_("window date"), null=True, blank=True)
    # Resumable runs (historical series imports): how far the run got, committed in the same
    # transaction as the data it describes, and when its worker last said it was alive. A run
    # that is still "running" with a stale heartbeat lost its worker and is resumed from here
    # (datahub.iot.services.series_imports).
    checkpoint = models.JSONField(_("checkpoint"), default=dict, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "window_date"],
                condition=models.Q(window_date__isnull=False),
                name="run_source_window_date_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} #{self.pk} ({self.status})"


class Entity(models.Model):
    """One registry of real-world things: districts, facilities, enterprises, devices, roads…"""

    class Type(models.TextChoices):
        DISTRICT = "district", _("District")
        FACILITY = "facility", _("Facility")
        ENTERPRISE = "enterprise", _("Enterprise")
        DEVICE = "device", _("Device")
        ROAD = "road", _("Road")
        PARK = "park", _("Park")
        BUILDING = "building", _("Building")
        PERSON_GROUP = "organisation", _("Organisation")
        OTHER = "other", _("Other")

    type = models.CharField(_("type"), max_length=32, choices=Type.choices, db_index=True)
    name = models.CharField(_("name"), max_length=300, db_index=True)
    name_en = models.CharField(_("English name"), max_length=300, blank=True)
    normalized_name = models.CharField(max_length=300, db_index=True, blank=True, editable=False)
    geometry = models.GeometryField(_("geometry"), srid=4326, null=True, blank=True)
    area = models.ForeignKey(Area, verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("entity")
        verbose_name_plural = _("entities")
        ordering = ["id"]
        # Entity resolution looks candidates up by (type, normalised name) on every row it resolves.
        indexes = [models.Index(fields=["type", "normalized_name"], name="entity_type_normname")]

    def __str__(self) -> str:
        return local_name(self)  # name_en in English mode, when set


class EntityIdentifier(models.Model):
    """An external identifier of an entity in one source (licence number, device key, USCC…)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="identifiers")
    scheme = models.CharField(_("scheme"), max_length=64)
    value = models.CharField(_("value"), max_length=200)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    confidence = models.FloatField(_("confidence"), default=1.0)

    class Meta:
        verbose_name = _("entity identifier")
        verbose_name_plural = _("entity identifiers")
        constraints = [models.UniqueConstraint(fields=["scheme", "value"], name="entity_identifier_unique")]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


class Event(models.Model):
    """Append-only log of what happened: the apps' feedback loop into the datahub."""

    type = models.CharField(_("type"), max_length=100, db_index=True, help_text=_("e.g. case.created"))
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    subject = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    location = models.PointField(srid=4326, null=True, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The department whose work this was (a case's department, an alert's): department-scoped
    # roles see only their subtree's events (datahub.core.selectors.events.events_visible_to); None is
    # city-wide data every staff role sees.
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=True,
    )
    object_ref = models.CharField(_("object"), max_length=100, blank=True, help_text=_("app:model:id"))
    payload = models.JSONField(_("payload"), default=dict, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # Covering the location and id too: the cockpit's map layers cluster a day of one type's
            # points, or list a street's items, by an index-only scan (40 ms instead of 120 ms for
            # 16k of 300k events; 23 ms instead of 222 ms for a street box at 1M events, no heap
            # visits); counts by type and time use it as before.
            models.Index(fields=["type", "occurred_at"], include=["location", "id"], name="event_type_time_loc"),
            models.Index(fields=["area", "type", "occurred_at"]),
            # The entity page lists an entity's events, newest first.
            models.Index(fields=["subject", "occurred_at"], name="event_subject_time"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(type=""), name="event_type_not_empty")]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"
