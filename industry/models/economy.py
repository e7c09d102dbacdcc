"""Economic indicators per enterprise, and the industry chain (产业链) between industry codes."""

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from .registry import Enterprise, IndustryCode


class Metric(models.TextChoices):
    REVENUE = "revenue", _("Revenue (10k CNY)")
    TAX = "tax", _("Tax paid (10k CNY)")
    OUTPUT = "output", _("Output value (10k CNY)")
    EMPLOYEES = "employees", _("Employees")
    ENERGY = "energy", _("Energy use (tce)")
    EXPORTS = "exports", _("Exports (10k CNY)")


# Metrics that add up over time (a year is the sum of its months); the others are levels (a year
# is the mean of its months: employees).
FLOW_METRICS = frozenset({"revenue", "tax", "output", "energy", "exports"})


class Period(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class Indicator(models.Model):
    """One value of one metric for one enterprise and period (period_start: the first day)."""

    # No index of its own: the unique (enterprise, metric, period, period_start) index serves lookups
    # by enterprise, and one index less is a quarter less work for the demo's ~500k-row COPY.
    # No database FK either (a time series, like the datahub's observations): its per-row check
    # fired at commit cost ~13 s of the demo's 555k-row COPY at load 10; Django still cascades the
    # delete of an enterprise, and every writer takes enterprise ids from the registry.
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="indicators", db_index=False, db_constraint=False
    )
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    period = models.CharField(_("period"), max_length=8, choices=Period.choices)
    period_start = models.DateField(_("period start"))
    value = models.FloatField(_("value"))
    source = models.CharField(_("source"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("economic indicator")
        verbose_name_plural = _("economic indicators")
        ordering = ["enterprise", "metric", "period", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "metric", "period", "period_start"], name="indicator_unique_period"
            )
        ]
        indexes = [models.Index(fields=["metric", "period", "period_start"], name="indicator_metric_period")]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.metric} {self.period} {self.period_start}: {self.value}"


class ChainLink(models.Model):
    """An upstream → downstream link of an industry chain (新能源汽车: 32 → 38 → 36)."""

    chain = models.CharField(_("chain"), max_length=60)
    chain_en = models.CharField(_("chain (English)"), max_length=80, blank=True)
    upstream = models.ForeignKey(IndustryCode, on_delete=models.CASCADE, related_name="+")
    downstream = models.ForeignKey(IndustryCode, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("industry chain link")
        verbose_name_plural = _("industry chain links")
        ordering = ["chain", "upstream__code", "downstream__code"]
        constraints = [models.UniqueConstraint(fields=["chain", "upstream", "downstream"], name="chain_link_unique")]

    def __str__(self) -> str:
        return f"{self.chain}: {self.upstream.code} → {self.downstream.code}"
