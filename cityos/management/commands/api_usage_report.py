"""`manage.py api_usage_report [--month YYYY-MM] [--out DIR] [--organisation ID] [--email]`:
each developer organisation's API usage of a month (default: last month) as CSV and HTML."""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cityos.api import keys, reports


class Command(BaseCommand):
    help = "Write the monthly API usage report of each developer organisation (CSV and HTML)."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM (default: last month)")
        parser.add_argument("--out", help="folder (default: MEDIA_ROOT/reports/api-usage)")
        parser.add_argument("--organisation", type=int, help="only this organisation (id)")
        parser.add_argument("--email", action="store_true", help="also e-mail each organisation's contact")

    def handle(self, *args, month=None, out=None, organisation=None, email=False, **opts):
        if month:
            try:
                year, mon = (int(x) for x in month.split("-"))
                first = date(year, mon, 1)
            except ValueError:
                raise CommandError(f"--month: {month!r} is not YYYY-MM") from None
        else:
            first = reports.previous_month()
        keys.usage_flush()  # counts still in Redis belong in the report
        paths = reports.usage_report_write(
            month=first, out_dir=Path(out) if out else None, email=email, organisation_id=organisation
        )
        for p in paths:
            self.stdout.write(str(p))
        self.stdout.write(self.style.SUCCESS(f"{len(paths) // 2} organisation report(s) for {first:%Y-%m}"))
