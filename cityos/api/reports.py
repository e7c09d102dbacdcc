"""Monthly API usage report per developer organisation (CSV and HTML), from the flushed ApiUsage rows.

`usage_report_build(month=date(2026, 11, 1))` → one OrganisationReport per organisation with calls
that month; `usage_report_write(...)` writes `<dir>/<YYYY-MM>/<org-id>.csv|.html` and, with
`email=True`, sends each organisation's contact its report (HTML body, CSV attached). Run by
`manage.py api_usage_report` and by beat on the 1st of each month (`cityos.api_usage_monthly_report`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from cityos.models import ApiUsage, DeveloperOrganisation

CSV_COLUMNS = ["organisation", "application", "key", "key_prefix", "endpoint", "status", "calls"]


@dataclass
class OrganisationReport:
    organisation: DeveloperOrganisation
    month: date
    rows: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r["calls"] for r in self.rows)

    @property
    def errors(self) -> int:
        return sum(r["calls"] for r in self.rows if r["status"] >= 400)

    @property
    def throttled(self) -> int:
        return sum(r["calls"] for r in self.rows if r["status"] == 429)

    def by_day(self) -> list[tuple[date, int]]:
        return self._by_day

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        for r in self.rows:
            w.writerow(
                [
                    self.organisation.name,
                    r["application"],
                    r["key"],
                    r["prefix"],
                    r["endpoint"],
                    r["status"],
                    r["calls"],
                ]
            )
        return buf.getvalue()

    def to_html(self) -> str:
        return render_to_string("cityos/usage_report.html", {"report": self})


def month_start(value: date) -> date:
    return value.replace(day=1)


def previous_month(today: date | None = None) -> date:
    today = today or timezone.localdate()
    return month_start(month_start(today) - timedelta(days=1))


def _month_end(month: date) -> date:
    return month_start(month + timedelta(days=32))


def usage_report_build(*, month: date, organisation_id: int | None = None) -> list[OrganisationReport]:
    month = month_start(month)
    qs = ApiUsage.objects.filter(day__gte=month, day__lt=_month_end(month))
    if organisation_id is not None:
        qs = qs.filter(key__application__organisation_id=organisation_id)
    rows = (
        qs.values(
            "key__application__organisation_id",
            "key__application__name",
            "key__name",
            "key__prefix",
            "endpoint",
            "status",
        )
        .annotate(calls=Sum("count"))
        .order_by("key__application__organisation_id", "key__application__name", "key__name", "endpoint", "status")
    )
    daily = qs.values("key__application__organisation_id", "day").annotate(calls=Sum("count")).order_by("day")
    orgs = DeveloperOrganisation.objects.in_bulk({r["key__application__organisation_id"] for r in rows})
    reports: dict[int, OrganisationReport] = {}
    for r in rows:
        oid = r["key__application__organisation_id"]
        rep = reports.setdefault(oid, OrganisationReport(organisation=orgs[oid], month=month))
        rep.rows.append(
            {
                "application": r["key__application__name"],
                "key": r["key__name"],
                "prefix": r["key__prefix"],
                "endpoint": r["endpoint"],
                "status": r["status"],
                "calls": r["calls"],
            }
        )
    for rep in reports.values():
        rep._by_day = []
    for d in daily:
        rep = reports.get(d["key__application__organisation_id"])
        if rep is not None:
            rep._by_day.append((d["day"], d["calls"]))
    return sorted(reports.values(), key=lambda r: r.organisation.name)


def report_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "reports" / "api-usage"


def usage_report_write(
    *, month: date, out_dir: Path | None = None, email: bool = False, organisation_id: int | None = None
) -> list[Path]:
    """Write each organisation's report as CSV and HTML (and e-mail it when asked); the paths written."""
    month = month_start(month)
    folder = (out_dir or report_dir()) / month.strftime("%Y-%m")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for rep in usage_report_build(month=month, organisation_id=organisation_id):
        base = folder / f"{rep.organisation.id}"
        csv_text, html = rep.to_csv(), rep.to_html()
        base.with_suffix(".csv").write_text(csv_text, encoding="utf-8")
        base.with_suffix(".html").write_text(html, encoding="utf-8")
        written += [base.with_suffix(".csv"), base.with_suffix(".html")]
        if email and rep.organisation.contact_email:
            subject = _("CityOS API usage %(month)s: %(org)s") % {
                "month": month.strftime("%Y-%m"),
                "org": rep.organisation,
            }
            msg = EmailMultiAlternatives(
                subject,
                _("%(n)s calls this month. The report is attached.") % {"n": rep.total},
                settings.DEFAULT_FROM_EMAIL,
                [rep.organisation.contact_email],
            )
            msg.attach_alternative(html, "text/html")
            msg.attach(f"api-usage-{month:%Y-%m}.csv", csv_text, "text/csv")
            msg.send()
    return written
