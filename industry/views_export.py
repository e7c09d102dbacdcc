"""CSV / XLSX export of enterprise lists (the same scoped, filtered queryset as the page and API)."""

import csv
import io

from django.http import HttpResponse
from django.utils.translation import gettext as _

from industry.permissions import sees_personal_data
from industry.services.errors import IndustryError

MAX_ROWS = 50_000


def _rows(qs, user):
    personal = sees_personal_data(user)
    yield [
        _("Name"),
        _("English name"),
        _("Unified social credit code"),
        _("Legal representative"),
        _("Status"),
        _("Industry"),
        _("Size"),
        _("Address"),
        _("Park"),
        _("Risk score"),
        _("Risk level"),
    ]
    for e in qs.select_related("park", "industry")[:MAX_ROWS]:
        yield [
            e.name,
            e.name_en,
            e.uscc or "",
            e.legal_representative if personal else "",
            e.get_status_display(),
            f"{e.industry_code} {e.industry.name}" if e.industry else "",
            e.get_size_display() if e.size else "",
            e.address,
            e.park.name if e.park else "",
            e.risk_score,
            e.get_risk_level_display(),
        ]


def export_response(qs, *, request, fmt: str = "csv") -> HttpResponse:
    if fmt not in ("csv", "xlsx"):
        raise IndustryError("export_format: csv or xlsx", extra={"field": "export_format"})
    rows = _rows(qs, request.user)
    if fmt == "csv":
        buf = io.StringIO()
        buf.write("\ufeff")  # Excel opens UTF-8 Chinese correctly with a BOM
        csv.writer(buf).writerows(rows)
        resp = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = 'attachment; filename="enterprises.csv"'
        return resp
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("enterprises")
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    resp = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = 'attachment; filename="enterprises.xlsx"'
    return resp
