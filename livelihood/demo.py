"""Demo city step of the livelihood wing: 64 services in 8 departments, 5 life events, ~340 facilities of
10 types with realistic hours, 4 offices with 30 days of slots and bookings in every state, notices,
~500 ratings with a realistic distribution, citizen users, a few portal reports through the real path.

Bulk paths throughout (bulk_create / ON CONFLICT / one UPDATE for slot counts); idempotent: services,
facilities, offices and slots by their codes, the rest only when absent. ~5 s on the shared machine.
"""

import random
from datetime import date, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from cityos.roles import Role
from datahub import facade

from .models import (
    Appointment,
    Holiday,
    Notice,
    Office,
    PublishStatus,
    Rating,
    Report,
    Service,
    ServiceVersion,
    Slot,
    SlotTemplate,
)
from .services.appointments import slots_generate
from .services.facilities import facilities_upsert
from .services.guide import life_event_save
from .services.notices import notice_save, notice_set_status
from .services.schedule import beat_schedule_ensure

ID, PHOTO, HUKOU, APPLY, MARRIAGE, BIRTH, LICENCE, LEASE, PROPERTY, RETIRE = (
    ("居民身份证", "Resident ID card"),
    ("近期免冠照片", "Recent passport photo"),
    ("户口簿", "Household register"),
    ("申请表", "Application form"),
    ("结婚证", "Marriage certificate"),
    ("出生医学证明", "Medical birth certificate"),
    ("营业执照", "Business licence"),
    ("租赁合同", "Lease contract"),
    ("不动产权证书", "Property certificate"),
    ("退休审批表", "Retirement approval form"),
)

# department code -> [(code, name, name_en, materials, bookable, legal days, promised days, mode, fee)]
SERVICES = {
    "public-security": [
        (
            "PS-01",
            "居民身份证申领",
            "Apply for a resident ID card",
            [ID, PHOTO, HUKOU],
            True,
            60,
            20,
            "offline",
            "20元",
        ),
        (
            "PS-02",
            "出生登记（户口）",
            "Register a newborn's residence",
            [BIRTH, HUKOU, MARRIAGE, ID],
            True,
            10,
            1,
            "both",
            "",
        ),
        ("PS-03", "户口迁移", "Move household registration", [HUKOU, ID, PROPERTY], True, 20, 5, "offline", ""),
        ("PS-04", "居住证办理", "Residence permit", [ID, LEASE, PHOTO], True, 15, 7, "both", ""),
        ("PS-05", "出入境证件（护照）", "Passport", [ID, PHOTO, APPLY], True, 7, 7, "offline", "120元"),
        ("PS-06", "港澳通行证", "Hong Kong and Macao travel permit", [ID, PHOTO], True, 7, 7, "offline", "60元"),
        ("PS-07", "无犯罪记录证明", "Certificate of no criminal record", [ID, APPLY], False, 7, 3, "online", ""),
        ("PS-08", "临时身份证明", "Temporary identity certificate", [HUKOU, PHOTO], True, 1, 0, "offline", ""),
    ],
    "civil-affairs": [
        ("CA-01", "结婚登记", "Marriage registration", [ID, HUKOU, PHOTO], True, 1, 0, "offline", ""),
        ("CA-02", "离婚登记", "Divorce registration", [ID, HUKOU, MARRIAGE], True, 30, 30, "offline", ""),
        ("CA-03", "高龄津贴申领", "Old-age allowance", [ID, HUKOU, APPLY], False, 20, 10, "both", ""),
        ("CA-04", "最低生活保障申请", "Minimum living allowance", [ID, HUKOU, APPLY], False, 30, 20, "both", ""),
        ("CA-05", "养老机构入住评估", "Care home admission assessment", [ID, APPLY], True, 15, 10, "offline", ""),
        ("CA-06", "殡葬补贴申领", "Funeral allowance", [ID, HUKOU], False, 15, 5, "both", ""),
        ("CA-07", "残疾人两项补贴", "Disability allowances", [ID, APPLY, PHOTO], False, 20, 10, "both", ""),
        ("CA-08", "社会组织登记", "Register a social organisation", [ID, APPLY], False, 30, 15, "online", ""),
    ],
    "health": [
        ("HE-01", "出生医学证明办理", "Medical birth certificate", [ID, MARRIAGE], True, 5, 1, "offline", ""),
        ("HE-02", "预防接种证办理", "Vaccination booklet", [BIRTH, ID], True, 1, 0, "offline", ""),
        ("HE-03", "生育登记", "Birth registration (family planning)", [ID, MARRIAGE], False, 1, 0, "online", ""),
        ("HE-04", "医师执业注册", "Physician practice registration", [ID, APPLY, PHOTO], False, 20, 10, "online", ""),
        ("HE-05", "公共场所卫生许可", "Public venue hygiene permit", [LICENCE, APPLY], True, 20, 10, "both", ""),
        (
            "HE-06",
            "健康证明（从业人员）",
            "Health certificate for food workers",
            [ID, PHOTO],
            True,
            7,
            3,
            "offline",
            "40元",
        ),
        (
            "HE-07",
            "医疗机构执业登记",
            "Medical institution registration",
            [LICENCE, APPLY],
            False,
            45,
            20,
            "online",
            "",
        ),
        ("HE-08", "独生子女父母奖励", "One-child parents' award", [ID, HUKOU], False, 20, 10, "both", ""),
    ],
    "education": [
        (
            "ED-01",
            "义务教育入学登记",
            "Compulsory school enrolment",
            [HUKOU, PROPERTY, BIRTH],
            False,
            30,
            20,
            "online",
            "",
        ),
        ("ED-02", "转学申请", "School transfer", [HUKOU, APPLY], False, 15, 10, "both", ""),
        ("ED-03", "教师资格认定", "Teacher qualification", [ID, PHOTO, APPLY], True, 60, 30, "both", ""),
        ("ED-04", "民办学校设立", "Found a private school", [LICENCE, APPLY, LEASE], False, 90, 60, "offline", ""),
        ("ED-05", "学生资助申请", "Student financial aid", [ID, HUKOU], False, 30, 15, "online", ""),
        ("ED-06", "学历认证", "Diploma verification", [ID], False, 20, 10, "online", ""),
        ("ED-07", "校外培训机构审批", "After-school training approval", [LICENCE, LEASE], False, 30, 20, "both", ""),
        ("ED-08", "随迁子女入学", "Enrolment of migrant children", [HUKOU, LEASE, BIRTH], True, 30, 20, "both", ""),
    ],
    "market-regulation": [
        ("MR-01", "个体工商户登记", "Register a sole proprietorship", [ID, LEASE, APPLY], True, 3, 1, "both", ""),
        ("MR-02", "企业设立登记", "Register a company", [ID, LEASE, APPLY], True, 3, 1, "both", ""),
        ("MR-03", "食品经营许可", "Food business licence", [LICENCE, LEASE, APPLY], True, 20, 10, "both", ""),
        ("MR-04", "企业变更登记", "Change company registration", [LICENCE, APPLY], True, 3, 1, "online", ""),
        ("MR-05", "企业注销登记", "Deregister a company", [LICENCE, APPLY], False, 20, 10, "online", ""),
        ("MR-06", "消费投诉受理", "Consumer complaint", [ID], False, 7, 5, "online", ""),
        ("MR-07", "特种设备使用登记", "Special equipment registration", [LICENCE, APPLY], False, 30, 15, "both", ""),
        ("MR-08", "广告发布登记", "Advertising registration", [LICENCE], False, 20, 10, "online", ""),
    ],
    "housing": [
        ("HO-01", "住房公积金提取", "Housing fund withdrawal", [ID, PROPERTY], True, 5, 3, "both", ""),
        ("HO-02", "公租房申请", "Public rental housing", [ID, HUKOU, APPLY], False, 60, 45, "both", ""),
        ("HO-03", "房屋租赁登记备案", "Register a lease", [ID, LEASE], True, 3, 1, "both", ""),
        ("HO-04", "商品房预售许可", "Presale permit", [LICENCE, APPLY], False, 10, 7, "offline", ""),
        ("HO-05", "不动产登记", "Property registration", [ID, PROPERTY, APPLY], True, 30, 5, "offline", "80元"),
        ("HO-06", "施工许可", "Construction permit", [LICENCE, APPLY], False, 7, 5, "online", ""),
        ("HO-07", "物业服务备案", "Property management filing", [LICENCE], False, 15, 10, "online", ""),
        ("HO-08", "住房补贴申请", "Housing subsidy", [ID, HUKOU], False, 30, 20, "both", ""),
    ],
    "transport": [
        ("TR-01", "机动车驾驶证换证", "Renew a driving licence", [ID, PHOTO], True, 1, 0, "both", "10元"),
        ("TR-02", "机动车登记", "Register a vehicle", [ID, APPLY], True, 1, 0, "offline", ""),
        ("TR-03", "网约车驾驶员证", "Ride-hailing driver permit", [ID, PHOTO, APPLY], False, 20, 10, "both", ""),
        ("TR-04", "道路运输经营许可", "Road transport licence", [LICENCE, APPLY], False, 20, 15, "both", ""),
        ("TR-05", "老年人公交卡办理", "Senior bus pass", [ID, PHOTO], True, 3, 0, "offline", ""),
        ("TR-06", "出租车经营权转让", "Taxi licence transfer", [LICENCE, ID], False, 20, 15, "offline", ""),
        ("TR-07", "占道施工许可", "Road works permit", [LICENCE, APPLY], False, 10, 5, "online", ""),
        ("TR-08", "停车场备案", "Car park filing", [LICENCE, LEASE], False, 10, 5, "online", ""),
    ],
    "urban-management": [
        ("UM-01", "户外广告设置许可", "Outdoor advertising permit", [LICENCE, APPLY], False, 20, 7, "both", ""),
        ("UM-02", "占道经营临时许可", "Temporary street trading permit", [ID, APPLY], True, 10, 3, "offline", ""),
        ("UM-03", "建筑垃圾处置核准", "Construction waste disposal", [LICENCE, APPLY], False, 20, 5, "online", ""),
        ("UM-04", "城市绿地占用许可", "Use of urban green space", [APPLY], False, 20, 10, "both", ""),
        ("UM-05", "树木迁移砍伐许可", "Tree removal permit", [APPLY, PROPERTY], False, 20, 10, "both", ""),
        ("UM-06", "燃气经营许可", "Gas supply licence", [LICENCE, APPLY], False, 20, 15, "offline", ""),
        ("UM-07", "夜间施工许可", "Night construction permit", [LICENCE, APPLY], False, 3, 1, "online", ""),
        ("UM-08", "大型户外活动备案", "Large outdoor event filing", [ID, APPLY], False, 10, 5, "online", ""),
    ],
}
LIFE_EVENTS = [
    ("baby", "生孩子", "Having a baby", ["HE-01", "HE-02", "HE-03", "PS-02"]),
    ("move", "搬家", "Moving house", ["PS-03", "PS-04", "HO-03", "ED-02"]),
    ("shop", "开小店", "Opening a shop", ["MR-01", "MR-03", "HE-06", "UM-01"]),
    ("retire", "退休", "Retiring", ["HO-01", "CA-03", "TR-05"]),
    ("marry", "结婚", "Getting married", ["CA-01", "HE-03", "PS-03"]),
]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
ALL = WEEKDAYS + ["sat", "sun"]


def _h(days, *intervals):
    return {d: [list(iv) for iv in intervals] for d in days}


# type -> (name suffix zh, en, hours, always open, accessibility, services, per street)
FACILITY_KINDS = {
    "school": ("小学", "Primary School", _h(WEEKDAYS, ("07:30", "17:00")), False, ["ramp"], ["education"], 2),
    "library": ("图书馆", "Library", _h(["tue", "wed", "thu", "fri", "sat", "sun"], ("09:00", "20:30")), False,
                ["ramp", "lift", "braille"], ["reading", "wifi", "study rooms"], 1),
    "clinic": ("社区卫生服务中心", "Community Health Centre",
               {**_h(WEEKDAYS + ["sat"], ("08:00", "11:30"), ("13:30", "17:00")), "sun": [["08:00", "12:00"]]}, False,
               ["ramp", "accessible toilet"], ["general practice", "vaccination", "elderly check-ups"], 2),
    "hospital": ("人民医院", "People's Hospital", {}, True, ["ramp", "lift", "accessible toilet"],
                 ["emergency", "outpatient", "inpatient"], 0),
    "police": ("派出所", "Police Station", {}, True, ["ramp"], ["household registration", "ID cards", "reports"], 1),
    "park": ("公园", "Park", _h(ALL, ("05:30", "22:00")), False, ["step-free paths"], ["playground", "fitness"], 2),
    "service_hall": ("便民服务中心", "Citizen Service Centre",
                     {**_h(WEEKDAYS, ("09:00", "12:00"), ("13:30", "17:00")), "sat": [["09:00", "12:00"]]}, False,
                     ["ramp", "lift", "hearing loop"], ["social security", "residence permits", "certificates"], 1),
    "elderly_care": ("居家养老服务照料中心", "Elderly Day Care Centre", _h(ALL, ("08:00", "18:00")), False,
                     ["ramp", "accessible toilet", "handrails"], ["meals", "day care", "health checks"], 2),
    "wifi": ("公共Wi-Fi热点", "Public Wi-Fi Hotspot", {}, True, [], ["free wifi"], 2),
    "toilet": ("公共厕所", "Public Toilet", {}, True, ["accessible toilet"], [], 1),
}  # fmt: skip
OFFICES = [
    ("OFF-CIVIC", "滨江市民中心", "Binjiang Citizen Centre", "civil-affairs", ["CA", "HO", "ED", "HE"], 4, True),
    ("OFF-PSB", "公安出入境与户政大厅", "Police Exit-Entry and Residence Hall", "public-security", ["PS"], 6, False),
    ("OFF-MKT", "市场主体登记大厅", "Business Registration Hall", "market-regulation", ["MR", "UM"], 4, False),
    ("OFF-TRA", "车管所服务大厅", "Vehicle Administration Hall", "transport", ["TR"], 5, True),
]
NOTICES = [
    ("春节期间政务服务大厅开放时间调整", "Service halls' hours over Spring Festival", None, True, 0, None),
    ("滨湖区部分区域计划停水通知", "Planned water outage in parts of Binhu", "district-2", False, 0, 2),
    ("冬季流感疫苗接种开始预约", "Book your winter flu vaccination", None, False, -3, None),
    ("长安街道老年食堂开业", "Chang'an Subdistrict senior canteen opens", "street-1", False, -1, None),
    ("机动车驾驶证电子化全面推行", "Electronic driving licences for everyone", None, False, -10, None),
    ("高新区道路施工交通管制", "Road works and traffic control in Gaoxin", "district-3", False, -2, 5),
    ("元旦假期安排", "New Year holiday arrangements", None, False, 2, None),
    ("已过期：十月社区义诊", "Expired: October community health day", None, False, -40, -30),
]
RATING_SHARE = [(5, 0.62), (4, 0.22), (3, 0.08), (2, 0.05), (1, 0.03)]
GOOD_REASONS, BAD_REASONS = (
    ["fast", "friendly", "clear_guide", "one_visit", "online"],
    ["slow", "unfriendly", "unclear", "many_visits"],
)


def _dept_ids() -> dict[str, int]:
    return {d.code: d.id for d in facade.department_list()}


def build_livelihood(ctx) -> None:
    rng = random.Random(ctx.seed + 14)  # own stream
    depts = _dept_ids()
    if not depts:
        return
    beat_schedule_ensure()
    services = _services(depts)
    for i, (code, name, name_en, codes) in enumerate(LIFE_EVENTS):
        life_event_save(code=code, name=name, name_en=name_en, service_codes=codes, order=i)
    _facilities(rng)
    offices = _offices(rng, depts, services)
    _bookings(rng, offices)
    citizens = _citizens()
    _notices(depts)
    _ratings(rng, citizens)
    _reports(rng, citizens)


def _services(depts) -> dict[str, Service]:
    now = timezone.now()
    objs = []
    for dept_code, rows in SERVICES.items():
        for n, (code, name, name_en, mats, bookable, legal, promised, mode, fee) in enumerate(rows):
            objs.append(
                Service(
                    code=code, name=name, name_en=name_en, department_id=depts[dept_code], audience=(
                        "enterprise" if dept_code == "market-regulation" or "许可" in name else "person"),
                    summary=f"{name}：在线或到窗口办理，材料齐全当场受理。", conditions="本市户籍或持有效居住证的居民；企业类事项为在本市登记的市场主体。",
                    materials=[{"name": m, "name_en": e, "copies": 1} for m, e in mats],
                    steps=["网上或窗口提交申请", "审核材料", "办结并领取结果"], fees=fee or "免费",
                    legal_days=legal, promised_days=promised, mode=mode, locations="滨江市民中心及各区便民服务中心",
                    hours="工作日 9:00–12:00，13:30–17:00", legal_basis="《中华人民共和国行政许可法》及相关规定",
                    faq=[{"q": "可以委托他人办理吗？", "a": "可以，需提供委托书及双方身份证件。"}],
                    bookable=bookable, status=PublishStatus.PUBLISHED, version=1, published_at=now,
                    popularity=1000 - 37 * n - len(objs),
                )
            )  # fmt: skip
    Service.objects.bulk_create(
        objs,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "name_en", "department", "materials", "bookable", "mode", "legal_days", "promised_days"],
    )
    by_code = {s.code: s for s in Service.objects.filter(code__in=[o.code for o in objs])}
    ServiceVersion.objects.bulk_create(
        [ServiceVersion(service=s, version=1, data={"name": s.name}, note="demo") for s in by_code.values()],
        ignore_conflicts=True,
    )
    return by_code


def _bbox(geometry: dict) -> tuple[float, float, float, float]:
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], int | float):
            xs.append(c[0]), ys.append(c[1])
        else:
            for x in c:
                walk(x)

    walk(geometry["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def _facilities(rng) -> None:
    streets = facade.area_geometries(level="street", simplify=0)
    streets = [s for s in streets if s["code"].startswith("9901")]
    rows_by_type: dict[str, list[dict]] = {t: [] for t in FACILITY_KINDS}
    for n, street in enumerate(streets):
        x0, y0, x1, y1 = _bbox(street["geometry"])
        stem, stem_en = street["name"].removesuffix("街道"), street["name_en"].removesuffix(" Subdistrict")
        for ftype, (suffix, suffix_en, hours, always, access, offered, per_street) in FACILITY_KINDS.items():
            count = per_street if ftype != "hospital" else (1 if n % 4 == 0 else 0)
            for k in range(count):
                num = f"{k + 1}" if count > 1 else ""
                rows_by_type[ftype].append(
                    {
                        "key": f"demo-{ftype}:{street['code']}-{k + 1}",
                        "name": f"{stem}{suffix}{'第' + num + '' if num else ''}"[:300],
                        "name_en": f"{stem_en} {suffix_en}{' ' + num if num else ''}",
                        "address": f"{street['name']}{rng.randint(1, 300)}号",
                        "phone": f"0571-{rng.randint(80000000, 89999999)}",
                        "lon": round(rng.uniform(x0, x1), 6),
                        "lat": round(rng.uniform(y0, y1), 6),
                        "hours": hours,
                        "always_open": always,
                        "accessibility": access,
                        "services": offered,
                        "attributes": {"street_code": street["code"]},
                    }
                )
    source_id = facade.source_ensure(
        code="binjiang-livelihood-facilities", name="滨江市便民设施名录", kind="government"
    )
    for ftype, rows in rows_by_type.items():
        facilities_upsert(rows=rows, type=ftype, source_id=source_id)


def _offices(rng, depts, services) -> list[Office]:
    districts = [a for a in facade.area_list(level="district") if a.code.startswith("9901")]
    offices = []
    start = timezone.localdate()
    # New Year's Day closes every office (before the slots are generated, so it gets none).
    new_year = date(start.year + (1 if start.month == 12 else 0), 1, 1)
    Holiday.objects.get_or_create(date=new_year, office=None, defaults={"name": "元旦"})
    for i, (code, name, name_en, dept, prefixes, capacity, saturday) in enumerate(OFFICES):
        district = districts[i % len(districts)] if districts else None
        point = None
        if district is not None:
            [shape] = [g for g in facade.area_geometries(level="district", simplify=0) if g["id"] == district.id]
            x0, y0, x1, y1 = _bbox(shape["geometry"])
            point = Point(round((x0 + x1) / 2, 6), round((y0 + y1) / 2, 6), srid=4326)
        office, _ = Office.objects.update_or_create(
            code=code,
            defaults={
                "name": name, "name_en": name_en, "department_id": depts.get(dept) or next(iter(depts.values())),
                "address": f"{district.name if district else ''}市民大道{100 + i * 11}号", "point": point,
                "area_id": district.id if district else None, "phone": f"0571-8{i}12345{i}",
            },
        )  # fmt: skip
        office.services.set([s for c, s in services.items() if c[:2] in prefixes and s.bookable])
        if not SlotTemplate.objects.filter(office=office).exists():
            days = list(range(5)) + ([5] if saturday else [])
            SlotTemplate.objects.bulk_create(
                [SlotTemplate(office=office, weekday=wd, start=time(9), end=time(12), slot_minutes=30, capacity=capacity)
                 for wd in days]
                + [SlotTemplate(office=office, weekday=wd, start=time(13, 30), end=time(17), slot_minutes=30,
                                capacity=capacity) for wd in range(5)]
            )  # fmt: skip
        # 14 days back (for served / no-show bookings) and 30 ahead.
        slots_generate(office_id=office.id, days=44, start=start - timedelta(days=14))
        offices.append(office)
    return offices


def _bookings(rng, offices) -> None:
    if Appointment.objects.filter(office__in=offices).exists():
        return
    now = timezone.now()
    today = timezone.localdate()
    names = "张伟 王芳 李娜 刘洋 陈静 杨帆 赵磊 黄敏 周杰 吴琳 徐强 孙丽 马超 朱婷 胡军 郭燕".split()
    appts, events, queue = [], [], {}
    # The counter's "today": the first day from today with slots left (the demo may be built at night
    # or on a weekend); its bookings are checked in, being served, waiting.
    first_open = Slot.objects.filter(office__in=offices, starts_at__gt=now).order_by("starts_at").first()
    counter_day = timezone.localtime(first_open.starts_at).date() if first_open else today
    for office in offices:
        svc_ids = list(office.services.values_list("id", flat=True))
        if not svc_ids:
            continue
        for slot in Slot.objects.filter(office=office).order_by("starts_at"):
            local = timezone.localtime(slot.starts_at)
            fill = rng.random() * (0.9 if local.date() <= today + timedelta(days=3) else 0.4)
            for _ in range(int(slot.capacity * fill + 0.5)):
                if slot.starts_at < now - timedelta(hours=1):
                    status = rng.choices(["served", "no_show", "cancelled"], [0.85, 0.08, 0.07])[0]
                elif local.date() == counter_day and local.hour < 11:
                    status = rng.choice(["checked_in", "serving", "booked", "served"])
                else:
                    status = rng.choices(["booked", "cancelled"], [0.93, 0.07])[0]
                qn = None
                if status in ("served", "no_show", "checked_in", "serving") and status != "no_show":
                    key = (office.id, local.date())
                    queue[key] = queue.get(key, 0) + 1
                    qn = queue[key]
                name = rng.choice(names)
                appts.append(
                    Appointment(
                        code=f"D{len(appts):07d}", token=f"demo-{office.id}-{len(appts)}-{rng.getrandbits(64):x}",
                        slot=slot, office=office, service_id=rng.choice(svc_ids), name=name,
                        phone=f"138{rng.randint(10000000, 99999999)}", email="", status=status, queue_number=qn,
                        checked_in_at=slot.starts_at - timedelta(minutes=5) if qn else None,
                        served_at=slot.starts_at + timedelta(minutes=12) if status == "served" else None,
                    )
                )  # fmt: skip
                events.append({"type": "livelihood.appointment_booked", "occurred_at": slot.starts_at - timedelta(days=2),
                               "area_id": office.area_id, "payload": {"office": office.code}})  # fmt: skip
                if qn:
                    events.append({"type": "livelihood.appointment_checked_in", "occurred_at": slot.starts_at,
                                   "area_id": office.area_id, "payload": {"office": office.code}})  # fmt: skip
    Appointment.objects.bulk_create(appts, batch_size=2000)
    with connection.cursor() as cur:  # one statement for every slot's count (the CHECK holds: fill <= capacity)
        cur.execute(
            """UPDATE livelihood_slot s SET booked = c.n FROM (
                   SELECT slot_id, count(*) n FROM livelihood_appointment WHERE status <> 'cancelled' GROUP BY slot_id
               ) c WHERE c.slot_id = s.id AND s.office_id = ANY(%s)""",
            [[o.id for o in offices]],
        )
    facade.event_record_many(events=events)


def _citizens() -> list:
    User = get_user_model()
    from cityos.demo.city import DEMO_PASSWORD

    hashed = make_password(DEMO_PASSWORD)  # once: 20 hashes would cost seconds
    names = ["林小雨", "何志明", "高晓燕", "罗建华", "郑丽娟", "梁文涛", "宋佳怡", "谢国强", "韩梅梅", "唐志远",
             "冯雪", "董浩", "程静怡", "曹磊", "袁芳", "邓超", "许晴", "傅强", "沈丹", "彭宇"]  # fmt: skip
    User.objects.bulk_create(
        [User(username=f"citizen{i + 1}@binjiang.example", email=f"citizen{i + 1}@binjiang.example", display_name=n,
              role=Role.CITIZEN, password=hashed) for i, n in enumerate(names)],
        ignore_conflicts=True,
    )  # fmt: skip
    return list(User.objects.filter(role=Role.CITIZEN, username__endswith="@binjiang.example").order_by("username"))


def _notices(depts) -> None:
    if Notice.objects.filter(title=NOTICES[0][0]).exists():
        return
    now = timezone.now()
    districts = {
        f"district-{int(a.code[-2:])}": a.id for a in facade.area_list(level="district") if a.code.startswith("9901")
    }
    streets = [a.id for a in facade.area_list(level="street") if a.code.startswith("9901")]
    dept = depts.get("civil-affairs") or next(iter(depts.values()))
    for title, title_en, area, pinned, start_days, end_days in NOTICES:
        area_ids = [districts[area]] if area in districts else ([streets[0]] if area == "street-1" and streets else [])
        n = notice_save(
            department_id=dept, title=title, title_en=title_en, area_ids=area_ids, pinned=pinned,
            body=f"## {title}\n\n各位市民：\n\n- 时间：见下文\n- 咨询电话：**12345**\n\n详情请关注 [滨江市政府网站](https://www.example.gov.cn)。",
            body_en=f"## {title_en}\n\nDear residents,\n\n- Questions: call **12345**.",
            publish_at=now + timedelta(days=start_days),
            expires_at=now + timedelta(days=end_days) if end_days is not None else None,
        )  # fmt: skip
        notice_set_status(notice_id=n.id, status="published")


def _ratings(rng, citizens) -> None:
    if Rating.objects.exists():
        return
    served = list(Appointment.objects.filter(status="served").select_related("office", "slot")[:600])
    services = list(Service.objects.filter(status=PublishStatus.PUBLISHED).values_list("id", "department_id"))
    scores, weights = zip(*RATING_SHARE, strict=True)
    ratings, events = [], []
    for i in range(500):
        score = rng.choices(scores, weights)[0]
        reasons = rng.sample(GOOD_REASONS if score >= 4 else BAD_REASONS, k=rng.randint(0, 2))
        if i < len(served) and i % 2 == 0:
            appt = served[i]
            r = Rating(target="appointment", appointment=appt, service_id=appt.service_id,
                       department_id=appt.office.department_id, area_id=appt.office.area_id)  # fmt: skip
            at = appt.slot.starts_at + timedelta(hours=1)
        else:
            sid, did = rng.choice(services)
            r = Rating(target="service", service_id=sid, department_id=did)
            at = timezone.now() - timedelta(days=rng.uniform(0, 60))
        r.score, r.reasons = score, reasons
        r.comment = "" if rng.random() < 0.6 else ("办事很顺利" if score >= 4 else "排队太久，希望改进")
        r.citizen = rng.choice(citizens) if citizens and rng.random() < 0.3 else None
        if score <= 2:
            r.rectification_status = "closed"
            if rng.random() < 0.8:
                r.reply, r.replied_at = "已核实情况并整改，感谢您的监督。", at + timedelta(days=2)
        ratings.append(r)
        events.append({"type": "livelihood.rating_given", "occurred_at": at, "area_id": r.area_id,
                       "payload": {"score": score, "target": r.target, "department_id": r.department_id}})  # fmt: skip
    Rating.objects.bulk_create(ratings, batch_size=1000)
    # created_at is auto_now_add: spread them over the past two months in one statement.
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE livelihood_rating SET created_at = now() - (id % 60) * interval '1 day' - (id % 24) * interval '1 hour'"
        )
    facade.event_record_many(events=events)


def _reports(rng, citizens) -> None:
    """A few portal reports through the real path (report -> case.requested -> governance case)."""
    if Report.objects.exists():
        return
    from .services.reports import report_submit

    grids = facade.area_geometries(level="grid", simplify=0)[:6]
    texts = [("lighting", "小区门口路灯不亮已经三天"), ("roads", "人行道地砖松动，老人容易绊倒"),
             ("sanitation", "垃圾桶满了没人清运"), ("noise", "夜里工地施工噪音太吵"),
             ("greenery", "公园里的树枝折断悬空"), ("facilities", "公交站座椅损坏")]  # fmt: skip
    for (cat, text), grid in zip(texts, grids, strict=False):
        x0, y0, x1, y1 = _bbox(grid["geometry"])
        report_submit(
            category=cat, description=text, lon=round((x0 + x1) / 2, 6), lat=round((y0 + y1) / 2, 6),
            citizen=rng.choice(citizens) if citizens else None,
        )  # fmt: skip
