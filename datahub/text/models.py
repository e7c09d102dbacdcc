"""Internet data: documents (news, posts, web complaints) and what the text pipeline learnt from them.

A document belongs to the source and run it came from (lineage). The same item fetched twice is
stored once: `dedup_key` (sha256 of the source's external id, or of the url, or of title+body) is
unique per source. Analysis results are columns (topic, sentiment, simhash…) so the
public-opinion aggregates are plain indexed GROUP BYs.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.utils.translation import gettext_lazy as _

from datahub.core.models import Area, Entity, Run, Source


class Topic(models.TextChoices):
    TRAFFIC = "traffic", _("Traffic")
    ENVIRONMENT = "environment", _("Environment")
    PUBLIC_SAFETY = "public_safety", _("Public safety")
    UTILITIES = "utilities", _("Utilities")
    HOUSING = "housing", _("Housing")
    HEALTH = "health", _("Health")
    EDUCATION = "education", _("Education")
    BUSINESS = "business", _("Business")
    CULTURE = "culture", _("Culture")
    OTHER = "other", _("Other")


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class Document(models.Model):
    class Language(models.TextChoices):
        ZH = "zh", _("Chinese")
        EN = "en", _("English")
        OTHER = "other", _("Other")

    source = models.ForeignKey(Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="documents")
    run = models.ForeignKey(
        Run, verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    external_id = models.CharField(_("external id"), max_length=500, blank=True)
    dedup_key = models.CharField(max_length=64, editable=False)
    title = models.CharField(_("title"), max_length=500, blank=True)
    body = models.TextField(_("body"), blank=True)
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    author = models.CharField(_("author"), max_length=200, blank=True)
    published_at = models.DateTimeField(_("published"), db_index=True)
    fetched_at = models.DateTimeField(_("fetched"), auto_now_add=True)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.OTHER)
    # Full text: Chinese is indexed as jieba-segmented words ('simple' config: no stemming, so
    # the same segmentation is applied to queries).
    search_vector = SearchVectorField(null=True, editable=False)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices, default=Topic.OTHER)
    topic_confidence = models.FloatField(_("topic confidence"), default=0.0)
    sentiment = models.CharField(_("sentiment"), max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL)
    sentiment_score = models.FloatField(_("sentiment score"), default=0.0, help_text=_("-1 … +1"))
    # The most specific area the text names, and its district (the public-opinion map's unit).
    area = models.ForeignKey(
        Area, verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    district = models.ForeignKey(
        Area, verbose_name=_("district"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    areas = models.ManyToManyField(Area, through="DocumentArea", related_name="documents", blank=True)
    entities = models.ManyToManyField(Entity, through="DocumentEntity", related_name="documents", blank=True)
    # 64-bit SimHash (signed, as PostgreSQL bigint) and its four 16-bit bands: two texts within
    # Hamming distance 3 share at least one band exactly, so candidates are an indexed equality.
    simhash = models.BigIntegerField(default=0)
    sh_band0 = models.IntegerField(default=0)
    sh_band1 = models.IntegerField(default=0)
    sh_band2 = models.IntegerField(default=0)
    sh_band3 = models.IntegerField(default=0)
    cluster_id = models.BigIntegerField(_("repost cluster"), null=True, blank=True, db_index=True)
    flagged_at = models.DateTimeField(_("flagged as citizen issue"), null=True, blank=True)
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-published_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "dedup_key"], name="document_source_dedup_unique")]
        indexes = [
            GinIndex(fields=["search_vector"], name="document_search_gin"),
            models.Index(fields=["topic", "published_at"], name="document_topic_time"),
            models.Index(fields=["district", "sentiment", "published_at"], name="document_district_sent"),
            models.Index(fields=["sh_band0"], name="document_sh0"),
            models.Index(fields=["sh_band1"], name="document_sh1"),
            models.Index(fields=["sh_band2"], name="document_sh2"),
            models.Index(fields=["sh_band3"], name="document_sh3"),
        ]

    def __str__(self) -> str:
        return self.title or self.body[:60]


class DocumentArea(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="area_links")
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="document_links")
    mention = models.CharField(_("mention"), max_length=200)

    class Meta:
        verbose_name = _("document area")
        verbose_name_plural = _("document areas")
        constraints = [models.UniqueConstraint(fields=["document", "area"], name="document_area_unique")]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.area_id}"


class DocumentEntity(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="entity_links")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="document_links")
    mention = models.CharField(_("mention"), max_length=300)

    class Meta:
        verbose_name = _("document entity")
        verbose_name_plural = _("document entities")
        constraints = [models.UniqueConstraint(fields=["document", "entity"], name="document_entity_unique")]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.entity_id}"


class TopicRule(models.Model):
    """The admins' keyword rulebook: a keyword found in a text adds `weight` to its topic's score."""

    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    keyword = models.CharField(_("keyword"), max_length=100)
    weight = models.FloatField(_("weight"), default=1.0, help_text=_("0.5 weak … 3 decisive"))
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("topic rule")
        verbose_name_plural = _("topic rules")
        ordering = ["topic", "keyword"]
        constraints = [models.UniqueConstraint(fields=["topic", "keyword"], name="topic_rule_unique")]

    def __str__(self) -> str:
        return f"{self.keyword} → {self.topic}"


class TextModel(models.Model):
    """A trained scikit-learn pipeline (joblib bytes) with its training figures; the newest is used."""

    class Kind(models.TextChoices):
        TOPIC = "topic", _("Topic classifier")
        SENTIMENT = "sentiment", _("Sentiment classifier")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    blob = models.BinaryField(editable=False)
    trained_at = models.DateTimeField(_("trained"), auto_now_add=True)
    n_samples = models.PositiveIntegerField(_("training samples"), default=0)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)

    class Meta:
        verbose_name = _("text model")
        verbose_name_plural = _("text models")
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.trained_at:%Y-%m-%d %H:%M}"


class FeedState(models.Model):
    """What a pulled source remembers between runs: validators for conditional GET, health."""

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="feed_state")
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("feed state")
        verbose_name_plural = _("feed states")

    def __str__(self) -> str:
        return f"{self.source_id}: {self.last_status_code}"
