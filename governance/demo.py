"""Demo step for governance: categories with Open311 codes and rules, dispatch rules, SLA policies,
a holiday calendar, grid assignments and a few hundred deterministic, realistic cases in Chinese.

Idempotent: categories and rules by code, cases by origin_ref (demo:<n>); rerunning skips what exists.
"""

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from cityos.roles import Role
from datahub import facade
from governance.models import (
    Case,
    Category,
    ClassifierRule,
    DispatchCentre,
    DispatchRule,
    GridAssignment,
    ServiceAttribute,
    SlaPolicy,
)
from governance.services.calendar import calendar_days_set
from governance.services.cases import case_create, case_rate, case_transition
from governance.services.classification import classifier_cache_reset, classifier_train
from governance.services.dispatch import DispatchIndex
from governance.services.location import gazetteer_reset
from governance.services.refcache import refcache_reset_all
from governance.services.schedule import beat_schedule_ensure

# 300 cases by default; settings.GOVERNANCE_DEMO_CASES lowers it where the demo is built often (tests).
DEMO_CASES = 300


def _demo_cases() -> int:
    from django.conf import settings

    return getattr(settings, "GOVERNANCE_DEMO_CASES", DEMO_CASES)


# group code, name, name_en, department code; leaves: code, service code, name, name_en, keywords, department code
TREE = [
    (
        "city-appearance",
        "市容环境",
        "City appearance",
        "urban-management",
        [
            (
                "garbage",
                "BJ-101",
                "垃圾清运",
                "Garbage collection",
                "垃圾,清运,垃圾桶,发臭,garbage,trash,rubbish",
                "urban-management-1",
            ),
            (
                "illegal-ads",
                "BJ-102",
                "违规广告",
                "Illegal advertising",
                "小广告,牛皮癣,广告牌,横幅,flyer,advert",
                "urban-management-1",
            ),
            (
                "street-vending",
                "BJ-103",
                "占道经营",
                "Street vending",
                "占道,摆摊,流动摊贩,夜市,vendor,stall",
                "urban-management-1",
            ),
        ],
    ),
    (
        "environment",
        "环境保护",
        "Environment",
        "ecology-environment",
        [
            (
                "noise",
                "BJ-201",
                "噪音扰民",
                "Noise",
                "噪音,噪声,吵,施工,广场舞,音响,noise,loud",
                "ecology-environment-1",
            ),
            (
                "air",
                "BJ-202",
                "大气污染",
                "Air pollution",
                "油烟,烟尘,焚烧,异味,扬尘,smoke,dust,smell",
                "ecology-environment-1",
            ),
            (
                "water-pollution",
                "BJ-203",
                "水体污染",
                "Water pollution",
                "河道,污水,排污,发黑,死鱼,sewage,dead fish,polluted",
                "ecology-environment-2",
            ),
        ],
    ),
    (
        "municipal",
        "市政设施",
        "Municipal facilities",
        "urban-management",
        [
            (
                "streetlight",
                "BJ-301",
                "路灯故障",
                "Street light out",
                "路灯,不亮,灯坏,streetlight,lamp",
                "urban-management-2",
            ),
            (
                "road-damage",
                "BJ-302",
                "道路破损",
                "Road damage",
                "坑洼,路面,破损,塌陷,pothole,road surface",
                "urban-management-2",
            ),
            ("manhole", "BJ-303", "井盖缺失", "Missing manhole cover", "井盖,窨井,manhole", "urban-management-2"),
        ],
    ),
    (
        "transport",
        "交通出行",
        "Transport",
        "transport",
        [
            (
                "parking",
                "BJ-401",
                "违章停车",
                "Illegal parking",
                "违停,乱停,停车,占用消防通道,parking",
                "public-security-2",
            ),
            ("bus", "BJ-402", "公交服务", "Bus service", "公交,班次,司机,站台,bus", "transport-2"),
        ],
    ),
    (
        "water",
        "供水排水",
        "Water supply and drainage",
        "water-affairs",
        [
            ("water-outage", "BJ-501", "停水", "Water outage", "停水,水压,没水,自来水,water supply", "water-affairs-1"),
            ("flooding", "BJ-502", "积水内涝", "Flooding", "积水,内涝,下水道,堵塞,flood,drain", "water-affairs-2"),
        ],
    ),
    (
        "housing",
        "物业住房",
        "Housing",
        "housing",
        [
            (
                "property",
                "BJ-601",
                "物业纠纷",
                "Property management",
                "物业,电梯,小区,业委会,elevator,property",
                "housing-1",
            ),
        ],
    ),
    (
        "market",
        "市场监管",
        "Market regulation",
        "market-regulation",
        [
            (
                "food-safety",
                "BJ-701",
                "食品安全",
                "Food safety",
                "食品,过期,餐馆,卫生,变质,food",
                "market-regulation-1",
            ),
            (
                "consumer",
                "BJ-702",
                "消费维权",
                "Consumer rights",
                "退款,欺诈,商家,预付卡,refund",
                "market-regulation-2",
            ),
        ],
    ),
]
TEXTS = {
    "garbage": ["{p}垃圾桶满了好几天没人清运，气味很大", "{p}路边堆放大量生活垃圾，蚊蝇滋生"],
    "illegal-ads": ["{p}楼道里贴满了小广告，影响市容", "{p}电线杆上到处是牛皮癣广告"],
    "street-vending": ["{p}门口流动摊贩占道经营，行人无法通行", "{p}夜市摊位占用人行道，晚上很乱"],
    "noise": ["{p}工地夜间施工噪音扰民，凌晨还在作业", "{p}广场舞音响声音太大，影响休息", "{p}楼下酒吧音乐太吵到半夜"],
    "air": ["{p}餐馆油烟直排，楼上住户无法开窗", "{p}有人露天焚烧垃圾，烟很大"],
    "water-pollution": ["{p}附近河道发黑发臭，疑似有企业偷排污水", "{p}小河里出现很多死鱼"],
    "streetlight": ["{p}路灯不亮已经一周了，晚上很危险", "{p}一排路灯都坏了"],
    "road-damage": ["{p}路面坑洼严重，电动车容易摔倒", "{p}人行道塌陷，有安全隐患"],
    "manhole": ["{p}井盖缺失，夜间很危险", "{p}窨井盖破损下陷"],
    "parking": ["{p}车辆乱停占用消防通道", "{p}人行道上违停车辆很多"],
    "bus": ["{p}公交班次太少，等车要四十分钟", "{p}公交司机态度恶劣"],
    "water-outage": ["{p}突然停水没有任何通知", "{p}高层水压太低，没水用"],
    "flooding": ["{p}一下雨就积水，下水道堵塞", "{p}地下车库内涝严重"],
    "property": ["{p}小区电梯经常故障，物业不管", "{p}物业费上涨没有公示"],
    "food-safety": ["{p}餐馆后厨卫生很差，吃完拉肚子", "{p}超市在卖过期食品"],
    "consumer": ["{p}健身房倒闭预付卡无法退款", "{p}网购商家拒绝退款"],
}
PLACES = [
    "{street}幸福小区",
    "{street}人民路与解放路口",
    "{street}滨江花园",
    "{street}文化广场",
    "{street}菜市场",
    "{street}学校附近",
]
# Demo holiday calendar (illustrative; admins maintain the official one each year).
CALENDAR = [
    (date(2026, 1, 1), "holiday", "元旦"),
    (date(2026, 10, 1), "holiday", "国庆节"),
    (date(2026, 10, 2), "holiday", "国庆节"),
    (date(2026, 10, 5), "holiday", "国庆节"),
    (date(2026, 10, 6), "holiday", "国庆节"),
    (date(2026, 10, 7), "holiday", "国庆节"),
    (date(2026, 10, 10), "workday", "国庆调休"),
]


def _categories() -> dict[str, Category]:
    out = {}
    for gcode, gname, gname_en, gdept, leaves in TREE:
        group, _ = Category.objects.update_or_create(
            code=gcode,
            defaults={"name": gname, "name_en": gname_en, "group": gname, "default_department_id": _dept(gdept)},
        )
        out[gcode] = group
        for code, scode, name, name_en, keywords, dept in leaves:
            leaf, _ = Category.objects.update_or_create(
                code=code,
                defaults={
                    "parent": group,
                    "service_code": scode,
                    "name": name,
                    "name_en": name_en,
                    "keywords": keywords,
                    "group": gname,
                    "default_department_id": _dept(gdept),
                },
            )
            out[code] = leaf
            ClassifierRule.objects.update_or_create(category=leaf, defaults={"keywords": keywords, "weight": 1.0})
            DispatchRule.objects.update_or_create(
                category=leaf,
                area=None,
                defaults={"department_id": _dept(dept), "order": 100, "note": f"{name} → {dept}"},
            )
    ServiceAttribute.objects.update_or_create(
        category=out["noise"],
        code="source",
        defaults={
            "datatype": "singlevaluelist",
            "required": False,
            "order": 1,
            "description": "噪音来源",
            "values": [
                {"key": "construction", "name": "建筑施工"},
                {"key": "business", "name": "商业经营"},
                {"key": "neighbour", "name": "邻里生活"},
            ],
        },
    )
    ServiceAttribute.objects.update_or_create(
        category=out["streetlight"],
        code="pole_number",
        defaults={"datatype": "string", "required": False, "order": 1, "description": "灯杆编号"},
    )
    return out


_dept_cache: dict = {}


def _dept(code: str) -> int | None:
    if code not in _dept_cache:
        info = facade.department_get(code=code)
        _dept_cache[code] = info.id if info else None
    return _dept_cache[code]


def build_governance(ctx) -> None:
    rng = ctx.rng.__class__(ctx.seed + 7)  # own stream: other steps' draws do not shift our cases
    _dept_cache.clear()
    hotline = _dept("hotline-12345")
    if hotline:
        DispatchCentre.objects.get_or_create(department_id=hotline)
        refcache_reset_all()
    cats = _categories()
    # District governments handle street vending in their own district (area-specific rule).
    for d in facade.area_list(level="district"):
        dept = _dept(f"district-{int(d.code[-2:])}") if d.code.startswith("9901") else None
        if dept:
            DispatchRule.objects.update_or_create(
                category=cats["street-vending"],
                area_id=d.id,
                defaults={"department_id": dept, "order": 50, "note": f"占道经营 × {d.name} → 区政府"},
            )
    for prio, hours in (("urgent", 4), ("high", 18), ("normal", 45), ("low", 90)):
        SlaPolicy.objects.update_or_create(
            category=None, priority=prio, defaults={"resolve_hours": hours, "warn_hours": min(4, hours / 4)}
        )
    SlaPolicy.objects.update_or_create(
        category=cats["manhole"], priority="", defaults={"resolve_hours": 4, "warn_hours": 1}
    )
    # Through the service: the offices' appointment calendars (livelihood) hear of the holidays.
    calendar_days_set(days=list(CALENDAR))
    User = get_user_model()
    grid_user = User.objects.filter(username="grid", role=Role.GRID_WORKER).first()
    grids = facade.area_list(level="grid")
    if grid_user and grids:
        for g in grids[:4]:
            GridAssignment.objects.get_or_create(grid_id=g.id, worker=grid_user)
    beat_schedule_ensure()
    _cases(rng, cats)


def _cases(rng, cats) -> None:
    done = set(Case.objects.filter(origin_ref__startswith="demo:").values_list("origin_ref", flat=True))
    total = _demo_cases()
    if len(done) >= total:
        return
    streets = facade.area_list(level="street")
    if not streets:
        return
    classifier_cache_reset()  # the rules, categories and policies were just (re)written
    gazetteer_reset()
    refcache_reset_all()
    boxes = {}
    for a in facade.area_geometries(level="street", simplify=0):
        ring = a["geometry"]["coordinates"][0][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        boxes[a["id"]] = (min(xs), min(ys), max(xs), max(ys))
    leaves = list(TEXTS)
    index = DispatchIndex()
    today = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    channels = ["hotline"] * 6 + ["api", "open311", "grid", "portal"]
    for n in range(total):
        # Draw everything first so a rerun that skips a case keeps the same stream for the rest.
        leaf = rng.choice(leaves)
        street = rng.choice(streets)
        place = rng.choice(PLACES).format(street=street.name)
        text = rng.choice(TEXTS[leaf]).format(p=place)
        x0, y0, x1, y1 = boxes.get(street.id, (0, 0, 0, 0))
        # Two in three callers give a point (app, Open311); the others only an address.
        lon, lat = (rng.uniform(x0, x1), rng.uniform(y0, y1)) if rng.random() < 0.67 and x1 else (None, None)
        age_h = rng.uniform(1, 30 * 24)
        fate = rng.random()
        prio = rng.choices(["urgent", "high", "normal", "low"], weights=[1, 3, 12, 2])[0]
        rating = rng.choices([5, 4, 3, 2, 1], weights=[50, 25, 10, 8, 7])[0]
        phone = f"139{rng.randint(10000000, 99999999)}"
        if f"demo:{n}" in done:
            continue
        created = today - timedelta(hours=age_h)
        case = case_create(
            channel=channels[n % len(channels)],
            title=text[:40],
            description=text,
            address=place,
            lon=lon,
            lat=lat,
            priority=prio,
            reporter_phone=phone,
            origin="demo",
            origin_ref=f"demo:{n}",
            now=created,
            dispatch_index=index,
        )
        _progress(case, fate, rating, created)


def _progress(case, fate: float, rating: int, created) -> None:
    """Walk part of the cases through the workflow: ~15% only received/dispatched, the rest accepted,
    ~60% resolved, ~40% closed and rated."""
    if case.status != "dispatched" or fate < 0.15:
        return
    t = created + timedelta(hours=1 + fate * 3)
    now = timezone.now()
    steps = [("accept", ""), ("start", "")]
    if fate > 0.4:
        steps.append(("resolve", "已到现场处理完毕，已回访市民"))
    if fate > 0.6:
        steps.append(("close", ""))
    for action, note in steps:
        if t >= now:
            return
        case_transition(case_id=case.id, action=action, actor=None, note=note, now=t)
        t += timedelta(hours=2 + fate * 30)
    if fate > 0.6:
        case_rate(tracking_number=case.tracking_number, rating=rating, comment="", now=min(t, now))


def build_governance_model(ctx) -> None:
    """Train the first classifier on the demo cases (later ones come from the nightly beat job)."""
    from governance.models import ClassifierModel

    if not ClassifierModel.objects.filter(is_active=True).exists():
        classifier_train()
