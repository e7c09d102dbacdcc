import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import transaction

from cityos.roles import Role
from datahub.models import Area, Department

DEMO_PASSWORD = "cityos-demo"  # noqa: S105 - printed on purpose: demo logins only

CITY = {"code": "9901", "name": "滨江市", "name_en": "Binjiang City"}
# Centre of the (fictional) city, in WGS84; the city spans ~0.36° x 0.24° (~35 x 27 km).
ORIGIN_LON, ORIGIN_LAT = 120.02, 30.16
DISTRICTS = [
    ("江南区", "Jiangnan District"),
    ("滨湖区", "Binhu District"),
    ("高新区", "Gaoxin District"),
    ("临港区", "Lingang District"),
    ("西山区", "Xishan District"),
    ("东湾区", "Dongwan District"),
]
STREET_STEMS = [
    ("长安", "Chang'an"),
    ("和平", "Heping"),
    ("文昌", "Wenchang"),
    ("望江", "Wangjiang"),
    ("新华", "Xinhua"),
    ("解放", "Jiefang"),
    ("人民", "Renmin"),
    ("湖滨", "Hubin"),
    ("翠苑", "Cuiyuan"),
    ("紫金", "Zijin"),
    ("清波", "Qingbo"),
    ("朝晖", "Zhaohui"),
    ("金沙", "Jinsha"),
    ("银湖", "Yinhu"),
    ("春江", "Chunjiang"),
    ("秋涛", "Qiutao"),
    ("桃源", "Taoyuan"),
    ("梅林", "Meilin"),
    ("竹园", "Zhuyuan"),
    ("松柏", "Songbai"),
    ("凤凰", "Fenghuang"),
    ("龙井", "Longjing"),
    ("白鹭", "Bailu"),
    ("明珠", "Mingzhu"),
]
BUREAUS = [
    (
        "urban-management",
        "城市管理局",
        "Urban Management Bureau",
        ["市容环卫科", "市政设施科"],
        ["City Appearance Office", "Municipal Facilities Office"],
    ),
    (
        "ecology-environment",
        "生态环境局",
        "Ecology and Environment Bureau",
        ["大气环境科", "水环境科"],
        ["Air Quality Office", "Water Environment Office"],
    ),
    (
        "transport",
        "交通运输局",
        "Transport Bureau",
        ["道路运输科", "公共交通科"],
        ["Road Transport Office", "Public Transit Office"],
    ),
    (
        "water-affairs",
        "水务局",
        "Water Affairs Bureau",
        ["供排水科", "防汛抗旱科"],
        ["Water Supply Office", "Flood Control Office"],
    ),
    (
        "housing",
        "住房和城乡建设局",
        "Housing and Construction Bureau",
        ["物业管理科", "建筑工程科"],
        ["Property Management Office", "Construction Office"],
    ),
    (
        "public-security",
        "公安局",
        "Public Security Bureau",
        ["治安管理科", "交通警察支队"],
        ["Public Order Office", "Traffic Police"],
    ),
    (
        "market-regulation",
        "市场监督管理局",
        "Market Regulation Bureau",
        ["食品安全科", "消费者权益科"],
        ["Food Safety Office", "Consumer Rights Office"],
    ),
    (
        "commerce",
        "商务局",
        "Commerce Bureau",
        ["招商引资科", "企业服务科"],
        ["Investment Office", "Enterprise Services Office"],
    ),
    (
        "health",
        "卫生健康委员会",
        "Health Commission",
        ["医政医管科", "疾病预防科"],
        ["Medical Administration Office", "Disease Prevention Office"],
    ),
    (
        "education",
        "教育局",
        "Education Bureau",
        ["基础教育科", "学前教育科"],
        ["Basic Education Office", "Preschool Office"],
    ),
    (
        "civil-affairs",
        "民政局",
        "Civil Affairs Bureau",
        ["社会救助科", "养老服务科"],
        ["Social Assistance Office", "Elderly Care Office"],
    ),
    (
        "data-bureau",
        "大数据管理局",
        "Big Data Bureau",
        ["数据资源科", "平台运维科"],
        ["Data Resources Office", "Platform Operations Office"],
    ),
    (
        "hotline-12345",
        "12345政务服务热线中心",
        "12345 Hotline Centre",
        ["受理科", "督办科"],
        ["Intake Office", "Supervision Office"],
    ),
]


@dataclass
class DemoContext:
    seed: int
    rng: random.Random
    created: dict = field(default_factory=dict)
    logins: list = field(default_factory=list)


def _rect(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=4326)


def _jittered_cuts(rng: random.Random, lo: float, hi: float, n: int, jitter: float = 0.12) -> list[float]:
    """n cells between lo and hi whose inner edges are moved by up to ±jitter of a cell: streets
    are not all the same size, but neighbours still share their edges exactly (no gaps)."""
    step = (hi - lo) / n
    cuts = [lo] + [lo + step * (i + rng.uniform(-jitter, jitter)) for i in range(1, n)] + [hi]
    return [round(c, 6) for c in cuts]


def build_departments(ctx: DemoContext) -> None:
    city, _ = Department.objects.update_or_create(
        code="city",
        defaults={"name": "滨江市人民政府", "name_en": "Binjiang Municipal Government", "kind": "city", "parent": None},
    )
    ctx.created["department:city"] = city
    for code, name, name_en, offices, offices_en in BUREAUS:
        bureau, _ = Department.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "kind": "bureau",
                "parent": city,
                "phone": f"0571-8{ctx.rng.randint(1000000, 9999999)}",
            },
        )
        ctx.created[f"department:{code}"] = bureau
        for i, (oname, oname_en) in enumerate(zip(offices, offices_en, strict=True), start=1):
            Department.objects.update_or_create(
                code=f"{code}-{i}", defaults={"name": oname, "name_en": oname_en, "kind": "office", "parent": bureau}
            )
    for d, (name, name_en) in enumerate(DISTRICTS, start=1):
        dept, _ = Department.objects.update_or_create(
            code=f"district-{d}",
            defaults={
                "name": f"{name}人民政府",
                "name_en": f"{name_en} Government",
                "kind": "district",
                "parent": city,
            },
        )
        ctx.created[f"department:district-{d}"] = dept


def build_areas(ctx: DemoContext) -> None:
    """City -> 6 districts (3 x 2) -> 4 streets each (2 x 2) -> 4 grid cells each (2 x 2)."""
    rng = ctx.rng
    w, h = 0.36, 0.24
    x0, y0 = ORIGIN_LON - w / 2, ORIGIN_LAT - h / 2
    city, _ = Area.objects.update_or_create(
        code=CITY["code"],
        defaults={
            "name": CITY["name"],
            "name_en": CITY["name_en"],
            "level": "city",
            "parent": None,
            "geometry": _rect(x0, y0, x0 + w, y0 + h),
            "population": 0,
        },
    )
    xs = _jittered_cuts(rng, x0, x0 + w, 3)
    ys = _jittered_cuts(rng, y0, y0 + h, 2)
    total_pop = 0
    stems = iter(STREET_STEMS)
    for d, (name, name_en) in enumerate(DISTRICTS):
        cx, cy = d % 3, d // 3
        dx0, dx1, dy0, dy1 = xs[cx], xs[cx + 1], ys[cy], ys[cy + 1]
        dcode = f"{CITY['code']}{d + 1:02d}"
        district, _ = Area.objects.update_or_create(
            code=dcode,
            defaults={
                "name": name,
                "name_en": name_en,
                "level": "district",
                "parent": city,
                "geometry": _rect(dx0, dy0, dx1, dy1),
            },
        )
        sxs, sys_ = _jittered_cuts(rng, dx0, dx1, 2), _jittered_cuts(rng, dy0, dy1, 2)
        dpop = 0
        for s in range(4):
            stem, stem_en = next(stems)
            sx, sy = s % 2, s // 2
            scode = f"{dcode}{s + 1:03d}"
            pop = rng.randint(35_000, 120_000)
            dpop += pop
            street, _ = Area.objects.update_or_create(
                code=scode,
                defaults={
                    "name": f"{stem}街道",
                    "name_en": f"{stem_en} Subdistrict",
                    "level": "street",
                    "parent": district,
                    "geometry": _rect(sxs[sx], sys_[sy], sxs[sx + 1], sys_[sy + 1]),
                    "population": pop,
                },
            )
            gxs = _jittered_cuts(rng, sxs[sx], sxs[sx + 1], 2, 0.05)
            gys = _jittered_cuts(rng, sys_[sy], sys_[sy + 1], 2, 0.05)
            for g in range(4):
                gx, gy = g % 2, g // 2
                Area.objects.update_or_create(
                    code=f"{scode}{g + 1:03d}",
                    defaults={
                        "name": f"{stem}第{g + 1}网格",
                        "name_en": f"{stem_en} Grid {g + 1}",
                        "level": "grid",
                        "parent": street,
                        "geometry": _rect(gxs[gx], gys[gy], gxs[gx + 1], gys[gy + 1]),
                        "population": pop // 4,
                    },
                )
        district.population = dpop
        total_pop += dpop
        district.save(update_fields=["population"])
    city.population = total_pop
    city.save(update_fields=["population"])
    for area in Area.objects.filter(code__startswith=CITY["code"], centroid__isnull=True).exclude(geometry=None):
        area.centroid = area.geometry.centroid
        area.save(update_fields=["centroid"])
    ctx.created["area:city"] = city


DEMO_USERS = [
    # username, role, department code, display name
    ("leader", Role.CITY_LEADER, "city", "王建国"),
    ("officer", Role.DEPARTMENT_OFFICER, "urban-management", "李娜"),
    ("envofficer", Role.DEPARTMENT_OFFICER, "ecology-environment", "陈静"),
    ("hotline", Role.DEPARTMENT_OFFICER, "hotline-12345", "赵敏"),
    ("grid", Role.GRID_WORKER, "district-1", "张伟"),
    ("analyst", Role.ANALYST, "data-bureau", "刘洋"),
    ("admin", Role.ADMINISTRATOR, "data-bureau", "周强"),
    ("developer", Role.EXTERNAL_DEVELOPER, None, "Alex Developer"),
]


def build_users(ctx: DemoContext) -> None:
    User = get_user_model()
    for username, role, dept_code, display in DEMO_USERS:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "role": role,
                "display_name": display,
                "department": Department.objects.get(code=dept_code) if dept_code else None,
                "is_staff": role == Role.ADMINISTRATOR,
                "is_superuser": role == Role.ADMINISTRATOR,
                "email": f"{username}@binjiang.example",
            },
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        ctx.logins.append((username, DEMO_PASSWORD, Role(role).label))


Step = Callable[[DemoContext], None]
STEPS: list[tuple[str, Step]] = [
    ("departments", build_departments),
    ("areas", build_areas),
    ("users", build_users),
]


def build_demo_city(*, seed: int = 20261124, log: Callable[[str], None] = lambda _m: None) -> DemoContext:
    from datahub.search.services import indexing_paused, search_reindex

    ctx = DemoContext(seed=seed, rng=random.Random(seed))
    # Item-by-item index writes are skipped while the city is built; one bulk reindex (COPY in
    # batches of 2,000) indexes everything at the end.
    with indexing_paused():
        for name, step in STEPS:
            with transaction.atomic():
                step(ctx)
            log(f"demo city: {name} ready")
    counts = search_reindex()
    log(f"demo city: search index ready ({sum(counts.values())} items)")
    return ctx


def random_point_in(area: Area, rng: random.Random) -> Point:
    x0, y0, x1, y1 = area.geometry.extent
    return Point(rng.uniform(x0, x1), rng.uniform(y0, y1), srid=4326)
