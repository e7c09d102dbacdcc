"""Demo step: a few government datasets of the demo city, imported through the real import path.

Deterministic (own seeded generator, so steps added later keep their randomness) and idempotent
(a dataset that already has a version is left alone).
"""

import random

from django.core.files.uploadedfile import SimpleUploadedFile

from datahub.core.models import Area, Department
from datahub.datasets.models import Dataset, DatasetImport
from datahub.datasets.services import datasets as svc

TOILET_KINDS = ["独立式", "附建式", "活动式"]
STATION_NAMES = ["文昌", "望江", "湖滨", "紫金", "春江", "凤凰", "白鹭", "明珠", "梅林", "龙井", "翠苑", "金沙"]
SECTORS = ["软件和信息服务", "批发和零售", "住宿和餐饮", "制造业", "交通运输", "科学研究"]


def _import(ds: Dataset, name: str, content: bytes, **confirm) -> None:
    if ds.current_version:
        return
    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile(name, content))
    svc.dataset_import_confirm(imp=imp, queue=False, **confirm)
    svc.dataset_import_execute(import_id=imp.id)
    imp.refresh_from_db()
    if imp.status != DatasetImport.Status.SUCCEEDED:
        raise RuntimeError(f"demo dataset {ds.slug}: {imp.message}")


def _dataset(slug: str, dept_code: str, **fields) -> Dataset | None:
    ds = Dataset.objects.filter(slug=slug).first()
    if ds is not None:
        return ds
    dept = Department.objects.filter(code=dept_code).first() or Department.objects.order_by("path").first()
    if dept is None:
        return None
    return svc.dataset_create(slug=slug, owner_department=dept, **fields)


def build_datasets(ctx) -> None:
    rng = random.Random(ctx.seed + 3)
    city = Area.objects.filter(level="city").first()
    if city is None or city.geometry is None:
        return
    x0, y0, x1, y1 = city.geometry.extent
    districts = list(Area.objects.filter(level="district").order_by("code").values_list("name", flat=True))

    toilets = _dataset(
        "public-toilets",
        "urban-management",
        title="公共厕所分布",
        tags=["市容", "设施"],
        description="全市公共厕所的位置、类型和开放时间。",
        level=Dataset.Level.PUBLIC,
        update_frequency=Dataset.Frequency.MONTHLY,
        licence="CC BY 4.0",
    )
    if toilets is not None:
        lines = ["编号,名称,类型,蹲位数,全天开放,建成日期,纬度,经度"]
        for i in range(1, 121):
            lat, lon = rng.uniform(y0, y1), rng.uniform(x0, x1)
            lines.append(
                f"WC{i:04d},公厕{i}号,{rng.choice(TOILET_KINDS)},{rng.randint(4, 30)},"
                f"{rng.choice(['是', '否'])},20{rng.randint(5, 24):02d}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d},{lat:.6f},{lon:.6f}"
            )
        _import(toilets, "公共厕所.csv", ("\n".join(lines) + "\n").encode("gb18030"))

    stations = _dataset(
        "air-stations",
        "ecology-environment",
        title="空气质量监测站",
        tags=["环境", "空气"],
        description="国控和市控空气质量自动监测站点。",
        level=Dataset.Level.INTERNAL,
        update_frequency=Dataset.Frequency.YEARLY,
    )
    if stations is not None:
        lines = ["station_id,name,level,pm25_annual,lat,lon"]
        for i, name in enumerate(STATION_NAMES, start=1):
            lines.append(
                f"{i},{name}站,{'国控' if i <= 4 else '市控'},{rng.uniform(18, 45):.1f},"
                f"{rng.uniform(y0, y1):.6f},{rng.uniform(x0, x1):.6f}"
            )
        _import(stations, "stations.csv", ("\n".join(lines) + "\n").encode())

    firms = _dataset(
        "enterprise-registry-sample",
        "market-regulation",
        title="企业登记名录（样例）",
        tags=["企业", "市场主体"],
        description="按注册地址定位到区的企业登记信息样例。",
        level=Dataset.Level.RESTRICTED,
        update_frequency=Dataset.Frequency.DAILY,
    )
    if firms is not None and districts:
        lines = ["统一社会信用代码,企业名称,行业,注册资本（万元）,成立日期,注册地址"]
        for i in range(1, 81):
            code = f"91330100MA{i:07d}X"
            lines.append(
                f"{code},滨江{rng.choice(['智能', '数据', '绿色', '未来'])}科技有限公司{i},"
                f"{rng.choice(SECTORS)},{rng.randint(50, 5000)},{rng.randint(1, 28):02d}/"
                f"{rng.randint(1, 12):02d}/20{rng.randint(10, 24):02d},"
                f"滨江市{rng.choice(districts)}{rng.randint(1, 999)}号"
            )
        _import(firms, "企业名录.csv", ("\n".join(lines) + "\n").encode("utf-8-sig"))
