"""The search index: one row per searchable item of any app, and the admin-editable synonyms.

The text columns are what is shown (title, snippet source); `tsv` is what is matched, built by
`services.search_index_upsert` from Chinese character bigrams (substrings), pinyin and initials of
the title's words, code tokens and PostgreSQL's `english` stemming. Access columns (`level`,
`dept_path`, `grants`) are read inside every query (selectors.visibility_sql).
"""

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    PUBLIC = 0, _("Public")
    INTERNAL = 1, _("Internal")
    RESTRICTED = 2, _("Restricted")


LEVEL_CODES = {"public": Level.PUBLIC, "internal": Level.INTERNAL, "restricted": Level.RESTRICTED}


class SearchItem(models.Model):
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=32)
    key = models.CharField(_("key"), max_length=191)
    title = models.TextField(_("title"))
    title_en = models.TextField(_("English title"), blank=True, default="")
    body = models.TextField(_("body"), blank=True, default="")
    body_en = models.TextField(_("English body"), blank=True, default="")
    identifiers = models.TextField(_("identifiers"), blank=True, default="")
    url = models.CharField(_("URL"), max_length=500, blank=True, default="")
    time = models.DateTimeField(_("time"), null=True, blank=True)
    # Plain integers, not foreign keys: the index is derived data, rebuilt from the providers;
    # a deleted area or department must never block (or cascade into) it.
    area_id = models.IntegerField(_("area"), null=True, blank=True)
    area_path = ArrayField(models.IntegerField(), default=list, blank=True)  # the area and its ancestors
    district_id = models.IntegerField(null=True, blank=True)
    point = models.PointField(srid=4326, null=True, blank=True)
    department_id = models.IntegerField(_("department"), null=True, blank=True)
    dept_path = models.CharField(max_length=255, blank=True, default="")
    level = models.SmallIntegerField(_("classification level"), choices=Level.choices, default=Level.INTERNAL)
    grants = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    facets = models.JSONField(_("facets"), default=dict, blank=True)
    # The item is found only between these (a notice scheduled for Monday, expiring on Friday):
    # checked against now() in every query, so a date passing needs no reindex.
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    tsv = SearchVectorField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("search index item")
        verbose_name_plural = _("search index items")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="search_item_kind_key")]
        indexes = [
            # One text index per access class: an officer's restricted-item query ANDs access
            # lexemes in the small one while the open items need none (selectors.candidate_parts).
            GinIndex(fields=["tsv"], name="search_item_tsv_open", condition=models.Q(level__lte=1)),
            GinIndex(fields=["tsv"], name="search_item_tsv_restricted", condition=models.Q(level=2)),
            GinIndex(fields=["area_path"], name="search_item_area_path"),
            models.Index(fields=["-time"], name="search_item_time"),
            models.Index(fields=["dept_path"], name="search_item_dept_path", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} {self.title}"


class SearchSuggestion(models.Model):
    """Completions as you type: one row per (item, term), where the terms are the item's title
    from its start and from its first word starts (Latin words, jieba's words), and the pinyin and
    initials of its Chinese words (analysis.suggest_terms), normalised and cut to 48 characters.

    `term` sorts bytewise (collation C), so a typed prefix is one btree range read in term order:
    a suggestion request walks at most a few dozen distinct terms (selectors.suggest) whatever
    the size of the index. The access and validity columns are copies of the item's, so the walk
    applies the same visibility rule as a search without visiting the items; they are rewritten
    with the item on every upsert and go with it (a statement-level delete trigger, migration 0016).
    """

    pk = models.CompositePrimaryKey("item", "term")
    # No constraint: migration 0016's trigger deletes an item's rows with it (a foreign key would
    # check every inserted row); the primary key (item_id, term) is the index that delete uses.
    item = models.ForeignKey(
        SearchItem, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    term = models.CharField(max_length=64, db_collation="C")
    weight = models.FloatField(default=0.0)
    level = models.SmallIntegerField(choices=Level.choices, default=Level.INTERNAL)
    dept_path = models.CharField(max_length=255, blank=True, default="")
    grants = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("search suggestion")
        verbose_name_plural = _("search suggestions")
        indexes = [
            # Term order, best first within a term, with everything the walk reads (an index-only scan).
            models.Index(
                fields=["term", "-weight"],
                name="search_suggestion_term",
                include=["item", "level", "dept_path", "grants", "valid_from", "valid_until"],
            )
        ]

    def __str__(self) -> str:
        return self.term


class SearchTerm(models.Model):
    """The index's vocabulary of Latin words and pinyin (typo tolerance and "did you mean")."""

    word = models.CharField(max_length=64, primary_key=True)

    class Meta:
        indexes = [GinIndex(fields=["word"], name="search_term_trgm", opclasses=["gin_trgm_ops"])]
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")

    def __str__(self) -> str:
        return self.word


class SearchSynonym(models.Model):
    """A group of words that mean the same in a search (马路, 道路, road). Edited in the admin."""

    terms = models.CharField(
        _("terms"), max_length=500, help_text=_("Words that mean the same, separated by commas: 马路,道路,road")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("search synonym")
        verbose_name_plural = _("search synonyms")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.terms

    def words(self) -> list[str]:
        return [w.strip().lower() for w in self.terms.replace("，", ",").split(",") if w.strip()]
