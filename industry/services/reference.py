"""Reference data shipped with the app: GB/T 4754-2017 sections and divisions
(industry/data/gbt4754_2017.csv) and the usual enterprise tags. Idempotent (by code); run by the
data migration, the demo step and test fixtures (a transactional test's flush empties tables)."""

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "gbt4754_2017.csv"
TAGS = [
    ("high-tech", "高新技术企业", "High-tech enterprise"),
    ("specialised", "专精特新", "Specialised and innovative SME"),
    ("above-scale", "规上企业", "Above designated size"),
    ("foreign-invested", "外商投资企业", "Foreign-invested"),
    ("listed", "上市企业", "Listed company"),
    ("tech-sme", "科技型中小企业", "Technology-based SME"),
]


def reference_data_ensure(*, apps=None) -> None:
    if apps is not None:  # inside a migration: the historical models
        IndustryCode = apps.get_model("industry", "IndustryCode")
        Tag = apps.get_model("industry", "Tag")
    else:
        from industry.models import IndustryCode, Tag
    with DATA.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if IndustryCode.objects.count() != len(rows):
        by_code = {}
        for row in rows:  # sections come before their divisions in the file
            obj, _ = IndustryCode.objects.update_or_create(
                code=row["code"],
                defaults={
                    "level": row["level"],
                    "name": row["name"],
                    "name_en": row["name_en"],
                    "parent": by_code.get(row["parent"]),
                },
            )
            by_code[row["code"]] = obj
    for code, name, name_en in TAGS:
        Tag.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
