"""Demo step for the industry wing: 3 parks, ≥2,000 enterprises with valid USCCs across
industries, licences, 3 years of monthly indicators with trends and a few anomalies, 16 policies
(zh + en) with criteria, industry chains, enterprise users, appeals in every state, then one
matching run and one risk run.

Bulk paths only (the registry's importer, COPY for indicators, set-based matching): ~10 s for
2,000 enterprises on the 2-core machine. Idempotent: enterprises by USCC (a rerun adds none),
indicators upserted, policies and parks by code, appeals by title.
"""

import io
import math
import random
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import connection
from django.utils import timezone
from stdnum.cn import uscc as stdnum_uscc

from cityos.roles import Role
from datahub import facade
from industry.models import Appeal, AppealHistory, ChainLink, Enterprise, EnterpriseMember, IndustryCode, Park
from industry.services.imports import enterprise_import
from industry.services.matching import match_run
from industry.services.policies import policy_save
from industry.services.reference import reference_data_ensure
from industry.services.risk import risk_recompute
from industry.services.schedule import beat_schedule_ensure

DEMO_ENTERPRISES = 2000

# (division, weight, Chinese stem, English stem)
INDUSTRIES = [
    ("36", 6, "汽车零部件", "Auto Parts"),
    ("38", 8, "电气", "Electric"),
    ("39", 10, "电子科技", "Electronics"),
    ("34", 6, "通用机械", "Machinery"),
    ("35", 5, "专用设备", "Equipment"),
    ("26", 4, "化工", "Chemicals"),
    ("27", 3, "生物医药", "Biopharma"),
    ("29", 3, "塑料制品", "Plastics"),
    ("33", 4, "金属制品", "Metalworks"),
    ("13", 2, "食品", "Foods"),
    ("18", 3, "服饰", "Apparel"),
    ("32", 2, "有色金属", "Non-ferrous Metals"),
    ("51", 8, "贸易", "Trading"),
    ("52", 8, "商贸", "Retail"),
    ("62", 5, "餐饮管理", "Catering"),
    ("65", 9, "软件", "Software"),
    ("64", 4, "网络科技", "Internet"),
    ("72", 4, "商务咨询", "Consulting"),
    ("73", 2, "研究院", "Research"),
    ("74", 2, "检测技术", "Testing"),
    ("48", 3, "建设工程", "Construction"),
    ("59", 2, "仓储物流", "Logistics"),
    ("70", 2, "置业", "Real Estate"),
    ("44", 1, "能源", "Energy"),
]
PREFIXES = [
    ("滨江", "Binjiang"),
    ("江南", "Jiangnan"),
    ("临港", "Lingang"),
    ("高新", "Gaoxin"),
    ("西山", "Xishan"),
    ("东湾", "Dongwan"),
    ("望江", "Wangjiang"),
    ("明珠", "Mingzhu"),
    ("春江", "Chunjiang"),
    ("紫金", "Zijin"),
    ("凤凰", "Fenghuang"),
    ("白鹭", "Bailu"),
    ("金沙", "Jinsha"),
    ("银湖", "Yinhu"),
    ("华瑞", "Huarui"),
    ("恒信", "Hengxin"),
    ("博远", "Boyuan"),
    ("天成", "Tiancheng"),
    ("宏达", "Hongda"),
    ("启明", "Qiming"),
]
MIDDLES = [
    ("", ""),
    ("智能", "Smart "),
    ("新材料", "New Material "),
    ("精密", "Precision "),
    ("数字", "Digital "),
    ("绿色", "Green "),
    ("创新", "Innovation "),
    ("未来", "Future "),
]
SUFFIXES = [
    ("科技", "Technology"),
    ("实业", "Industrial"),
    ("发展", "Development"),
    ("控股", "Holdings"),
    ("股份", "Shares"),
    ("集团", "Group"),
]
SIZES = [("micro", 35, 30, 5), ("small", 40, 300, 40), ("medium", 20, 3000, 200), ("large", 5, 30000, 1500)]
PARKS = [
    ("gaoxin-park", "滨江高新技术产业园", "Binjiang Hi-tech Industrial Park", "高新区", 4200, 420),
    ("lingang-park", "临港先进制造业园区", "Lingang Advanced Manufacturing Park", "临港区", 6800, 380),
    ("xishan-park", "西山生物医药产业园", "Xishan Biopharma Park", "西山区", 2500, 200),
]
CHAINS = [
    (
        "新能源汽车",
        "New-energy vehicles",
        [("32", "33"), ("33", "36"), ("38", "36"), ("39", "36"), ("36", "51"), ("36", "81")],
    ),
    (
        "集成电路与电子信息",
        "Integrated circuits and electronics",
        [("26", "39"), ("39", "65"), ("40", "39"), ("39", "64")],
    ),
    ("生物医药", "Biopharma", [("26", "27"), ("73", "27"), ("27", "51"), ("35", "27"), ("27", "84")]),
]
LICENCES = {
    "13": "食品生产许可证",
    "14": "食品生产许可证",
    "62": "食品经营许可证",
    "26": "危险化学品经营许可证",
    "27": "药品生产许可证",
    "48": "建筑业企业资质证书",
}


def _demo_size() -> int:
    return getattr(settings, "INDUSTRY_DEMO_ENTERPRISES", DEMO_ENTERPRISES)


def make_uscc(n: int) -> str:
    body = f"91330100{(100_000_000 + n * 7919) % 1_000_000_000:09d}"
    return body + stdnum_uscc.calc_check_digit(body)


def _bbox(geojson: dict) -> tuple[float, float, float, float]:
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], int | float):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for x in c:
                walk(x)

    walk(geojson["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def build_industry(ctx) -> None:
    rng = random.Random(ctx.seed + 13)  # own stream
    reference_data_ensure()
    commerce = facade.department_get(code="commerce")
    market = facade.department_get(code="market-regulation")
    dept_id = commerce.id if commerce else None
    districts = {d["name"]: d for d in facade.area_geometries(level="district", simplify=0)}
    streets = [s for s in facade.area_geometries(level="street", simplify=0) if s["code"].startswith("9901")]
    if not streets:
        return
    # Parks: a block in the middle of three districts.
    park_boxes = []
    for code, name, name_en, district, mu, cap in PARKS:
        d = districts.get(district)
        if d is None:
            continue
        x0, y0, x1, y1 = _bbox(d["geometry"])
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        box = (cx - 0.015, cy - 0.01, cx + 0.015, cy + 0.01)
        Park.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "area_id": d["id"],
                "department_id": dept_id,
                "land_mu": mu,
                "capacity": cap,
                "boundary": MultiPolygon(
                    Polygon(((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3]), (box[0], box[1]))),
                    srid=4326,
                ),
            },
        )
        park_boxes.append(box)
    for chain, chain_en, links in CHAINS:
        for up, down in links:
            ChainLink.objects.get_or_create(
                chain=chain,
                upstream=IndustryCode.objects.get(code=up),
                downstream=IndustryCode.objects.get(code=down),
                defaults={"chain_en": chain_en},
            )
    rows = _enterprise_rows(rng, _demo_size(), streets, park_boxes, dept_id)
    enterprise_import(rows=rows, kind="demo", name="demo city", on_error="abort")
    ents = list(
        Enterprise.objects.filter(source="demo").order_by("id").values_list("id", "size", "industry_code", "uscc")
    )
    _indicators(rng, ents)
    _policies(dept_id, market.id if market else dept_id)
    _users_and_appeals(ctx, rng)
    match_run()
    first = list(Enterprise.objects.filter(source="demo").order_by("id").values_list("id", flat=True)[:100])
    risk_recompute(enterprise_ids=first)  # with cases, alerts at the premises (2 queries each)
    rest = list(Enterprise.objects.filter(source="demo").order_by("id").values_list("id", flat=True)[100:])
    risk_recompute(enterprise_ids=rest, with_places=False)  # the nightly beat run adds places for all
    beat_schedule_ensure()


def _enterprise_rows(rng, n, streets, park_boxes, dept_id) -> list[dict]:
    weights = [w for _c, w, _z, _e in INDUSTRIES]
    today = timezone.localdate()
    tags = ["high-tech", "specialised", "above-scale", "foreign-invested", "listed", "tech-sme"]
    rows, used = [], set()
    for k in range(n):
        code, _w, stem, stem_en = rng.choices(INDUSTRIES, weights=weights)[0]
        pre, pre_en = PREFIXES[k % len(PREFIXES)]
        mid, mid_en = MIDDLES[(k // len(PREFIXES)) % len(MIDDLES)]
        size = rng.choices(SIZES, weights=[s[1] for s in SIZES])[0][0]
        if park_boxes and rng.random() < 0.35:
            x0, y0, x1, y1 = park_boxes[k % len(park_boxes)]
        else:
            x0, y0, x1, y1 = _bbox(streets[rng.randrange(len(streets))]["geometry"])
        founded = today - timedelta(days=rng.randint(200, 365 * 25))
        t = [
            t
            for t in tags
            if rng.random()
            < {
                "high-tech": 0.15,
                "specialised": 0.08,
                "above-scale": 0.2,
                "foreign-invested": 0.05,
                "listed": 0.01,
                "tech-sme": 0.12,
            }[t]
        ]
        licence_type = LICENCES.get(code, "营业执照")
        valid_to = today + timedelta(days=rng.randint(-120, 1500))
        name, name_en = f"{pre}{mid}{stem}有限公司", f"{pre_en} {mid_en}{stem_en} Co., Ltd."
        for kind, kind_en in SUFFIXES:
            if name not in used:
                break
            name, name_en = f"{pre}{mid}{stem}{kind}有限公司", f"{pre_en} {mid_en}{stem_en} {kind_en} Co., Ltd."
        if name in used:
            name, name_en = f"{pre}{mid}{stem}（{k}）有限公司", f"{pre_en} {mid_en}{stem_en} ({k}) Co., Ltd."
        used.add(name)
        rows.append(
            {
                "name": name,
                "name_en": name_en,
                "uscc": make_uscc(k + 1),
                "legal_representative": rng.choice("王李张刘陈杨赵黄周吴")
                + rng.choice(["伟", "芳", "强", "敏", "静", "磊", "洋"]),
                "registered_capital": str({"micro": 50, "small": 500, "medium": 3000, "large": 20000}[size]),
                "founded_on": founded.isoformat(),
                "status": "active" if rng.random() > 0.03 else rng.choice(["suspended", "deregistered"]),
                "industry_code": code,
                "size": size,
                "address": f"滨江市{pre}路{rng.randint(1, 999)}号",
                "lon": str(round(rng.uniform(x0, x1), 6)),
                "lat": str(round(rng.uniform(y0, y1), 6)),
                "tags": ",".join(t),
                "department_code": "commerce" if dept_id else "",
                "land_mu": str(
                    round({"micro": 2, "small": 10, "medium": 40, "large": 150}[size] * rng.uniform(0.5, 1.5), 1)
                ),
                "licence_type": licence_type,
                "licence_number": f"BJ{k + 1:06d}",
                "licence_valid_from": (valid_to - timedelta(days=365 * 5)).isoformat(),
                "licence_valid_to": valid_to.isoformat(),
            }
        )
    return rows


def _indicators(rng, ents) -> None:
    """36 months per enterprise of revenue, tax, output, energy, employees (exports for exporters),
    with their quarters and years summed here, loaded by one COPY (~450k rows). Enterprises that
    already have demo indicators are skipped (a rerun adds nothing)."""
    from industry.models import Indicator

    done = set(Indicator.objects.filter(source="demo").values_list("enterprise_id", flat=True).distinct())
    ents = [e for e in ents if e[0] not in done]
    if not ents:
        return
    today = timezone.localdate()
    months = []
    y, m = today.year, today.month
    for _ in range(36):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        months.append(date(y, m, 1))
    months.reverse()
    season = {mo: 1 + 0.12 * math.sin(2 * math.pi * (mo - 3) / 12) - (0.25 if mo == 2 else 0) for mo in range(1, 13)}
    quarter = {d: date(d.year, 3 * ((d.month - 1) // 3) + 1, 1).isoformat() for d in months}
    year_of = {d: date(d.year, 1, 1).isoformat() for d in months}
    iso = {d: d.isoformat() for d in months}
    base_by_size = {s[0]: (s[2], s[3]) for s in SIZES}
    out = []
    w = out.append
    for eid, size, code, _uscc in ents:
        yearly, staff = base_by_size.get(size or "small", (300, 40))
        yearly *= rng.uniform(0.6, 1.6)
        growth = rng.gauss(0.08, 0.12)
        manufacturing = code[:2].isdigit() and 13 <= int(code[:2]) <= 43
        exporter = rng.random() < 0.2
        anomaly = rng.random() < 0.02
        tax_rate = rng.uniform(0.04, 0.07)
        energy_rate = (0.05 if manufacturing else 0.005) * rng.uniform(0.9, 1.1)
        out_rate = 1.1 if manufacturing else 0.2
        sums: dict = {}
        for i, d in enumerate(months):
            trend = (1 + growth) ** (i / 12)
            rev = yearly / 12 * trend * season[d.month] * (0.93 + 0.14 * rng.random())
            if anomaly and i == len(months) - 1:
                rev *= 0.35  # the last month collapses: a risk signal
            vals = [
                ("revenue", rev),
                ("tax", rev * tax_rate),
                ("output", rev * out_rate),
                ("energy", rev * energy_rate),
                ("employees", round(staff * trend**0.5)),
            ]
            if exporter:
                vals.append(("exports", rev * 0.3))
            for metric, v in vals:
                w(f"{eid}\t{metric}\tmonth\t{iso[d]}\t{v:.2f}\tdemo\n")
                for period, start in (("quarter", quarter[d]), ("year", year_of[d])):
                    key = (metric, period, start)
                    acc = sums.get(key)
                    sums[key] = (acc[0] + v, acc[1] + 1) if acc else (v, 1)
        for (metric, period, start), (total, n) in sums.items():
            v = total / n if metric == "employees" else total
            w(f"{eid}\t{metric}\t{period}\t{start}\t{v:.2f}\tdemo\n")
    buf = io.StringIO("".join(out))
    with connection.cursor() as cur:
        cur.cursor.copy_expert(
            "COPY industry_indicator (enterprise_id, metric, period, period_start, value, source) FROM STDIN", buf
        )


def _policies(commerce_id, market_id) -> None:
    from industry.models import Park as P

    parks = {p.code: p.id for p in P.objects.all()}
    gaoxin = facade.area_list(level="district")
    gaoxin_id = next((a.id for a in gaoxin if a.name == "高新区"), None)
    year = timezone.localdate().year
    vf, vt = date(year - 1, 1, 1), date(year + 1, 12, 31)
    P_ = [
        (
            "hi-tech-award",
            "高新技术企业认定奖励",
            "Award for certified high-tech enterprises",
            "对新认定的高新技术企业给予一次性奖励30万元。",
            "A one-off award of CNY 300,000 to newly certified high-tech enterprises.",
            "一次性奖励30万元",
            "CNY 300,000 once",
            30,
            True,
            [{"kind": "tag", "codes": ["high-tech"]}, {"kind": "status"}],
        ),
        (
            "specialised-sme",
            "专精特新中小企业培育资金",
            "Support for specialised and innovative SMEs",
            "对专精特新中小企业，上年度营业收入增长率不低于10%的，给予50万元培育资金。",
            "Specialised and innovative SMEs whose revenue grew at least 10% last year receive CNY 500,000.",
            "培育资金50万元",
            "CNY 500,000",
            50,
            True,
            [
                {"kind": "tag", "codes": ["specialised"]},
                {"kind": "size", "codes": ["small", "medium"]},
                {"kind": "indicator", "metric": "revenue", "measure": "growth", "op": "gte", "number": 10},
            ],
        ),
        (
            "scale-up",
            "小升规奖励",
            "Award for growing above designated size",
            "工业企业上年度营业收入达到2000万元、首次纳入规上统计的，奖励20万元。",
            "Industrial enterprises reaching CNY 20 million revenue and entering the above-size statistics get CNY 200,000.",
            "奖励20万元",
            "CNY 200,000",
            20,
            False,
            [
                {"kind": "industry", "codes": ["C"]},
                {"kind": "indicator", "metric": "revenue", "measure": "value", "op": "gte", "number": 2000},
            ],
        ),
        (
            "software-rent",
            "软件企业房租补贴",
            "Rent subsidy for software companies",
            "软件和信息技术服务业企业，成立不满5年，给予房租补贴。",
            "Software companies under 5 years old get a rent subsidy.",
            "房租补贴50%",
            "50% of rent",
            10,
            True,
            [{"kind": "industry", "codes": ["65", "64"]}, {"kind": "age", "op": "lte", "number": 5}],
        ),
        (
            "micro-tax",
            "小微企业纾困补贴",
            "Relief for micro and small enterprises",
            "小微企业上年度纳税额不超过10万元的，给予纾困补贴2万元。",
            "Micro and small enterprises paying at most CNY 100,000 tax get CNY 20,000 relief.",
            "补贴2万元",
            "CNY 20,000",
            2,
            True,
            [
                {"kind": "size", "codes": ["micro", "small"]},
                {"kind": "indicator", "metric": "tax", "measure": "value", "op": "lte", "number": 10},
                {"kind": "status"},
            ],
        ),
        (
            "export-growth",
            "外贸稳增长奖励",
            "Export growth award",
            "上年度出口额增长率不低于15%的企业，按增量给予奖励。",
            "Enterprises whose exports grew at least 15% get an award.",
            "按增量的2%奖励",
            "2% of the increase",
            None,
            False,
            [{"kind": "indicator", "metric": "exports", "measure": "growth", "op": "gte", "number": 15}],
        ),
        (
            "park-settle",
            "高新园区入驻补贴",
            "Settling-in subsidy, Hi-tech Park",
            "入驻滨江高新技术产业园的科技型中小企业，给予装修补贴。",
            "Tech SMEs in the Binjiang Hi-tech Park get a fit-out subsidy.",
            "装修补贴10万元",
            "CNY 100,000",
            10,
            True,
            [
                {"kind": "park", "park_id": parks.get("gaoxin-park")},
                {"kind": "tag", "codes": ["tech-sme", "high-tech"]},
            ],
        ),
        (
            "auto-chain",
            "新能源汽车产业链补链奖励",
            "New-energy vehicle chain award",
            "汽车制造业及电气机械企业上年度产值增长不低于20%的，给予奖励。",
            "Automotive and electrical machinery makers whose output grew at least 20% get an award.",
            "奖励100万元",
            "CNY 1 million",
            100,
            False,
            [
                {"kind": "industry", "codes": ["36", "38"]},
                {"kind": "indicator", "metric": "output", "measure": "growth", "op": "gte", "number": 20},
            ],
        ),
        (
            "energy-saving",
            "节能技术改造补助",
            "Energy-saving retrofit grant",
            "规上工业企业能耗下降的，给予技改补助。",
            "Above-size industrial enterprises cutting energy use get a grant.",
            "技改投资的10%",
            "10% of the investment",
            None,
            False,
            [
                {"kind": "industry", "codes": ["C"]},
                {"kind": "tag", "codes": ["above-scale"]},
                {"kind": "indicator", "metric": "energy", "measure": "growth", "op": "lte", "number": 0},
            ],
        ),
        (
            "biopharma",
            "生物医药创新产品奖励",
            "Biopharma innovation award",
            "医药制造业企业取得药品生产许可证的，给予奖励。",
            "Medicine makers holding a production licence get an award.",
            "奖励50万元",
            "CNY 500,000",
            50,
            False,
            [{"kind": "industry", "codes": ["27"]}, {"kind": "licence", "codes": ["药品生产许可证"]}],
        ),
        (
            "food-safety",
            "食品安全示范企业奖励",
            "Food safety model enterprise award",
            "持有有效食品经营许可证、无违法违规记录的餐饮企业，评为示范企业。",
            "Caterers with a valid food licence and no violations become model enterprises.",
            "奖励5万元",
            "CNY 50,000",
            5,
            True,
            [
                {"kind": "industry", "codes": ["62"]},
                {"kind": "licence", "codes": ["食品经营许可证"]},
                {"kind": "no_violations"},
            ],
        ),
        (
            "gaoxin-talent",
            "高新区人才安居补贴",
            "Gaoxin talent housing subsidy",
            "注册在高新区、从业人员不少于50人的企业，给予人才安居补贴。",
            "Enterprises in Gaoxin District with at least 50 staff get a talent housing subsidy.",
            "每人每月1000元",
            "CNY 1,000 per person per month",
            None,
            False,
            [
                {"kind": "area", "area_id": gaoxin_id},
                {"kind": "indicator", "metric": "employees", "measure": "value", "op": "gte", "number": 50},
            ]
            if gaoxin_id
            else [{"kind": "indicator", "metric": "employees", "measure": "value", "op": "gte", "number": 50}],
        ),
        (
            "listing",
            "企业上市奖励",
            "Listing award",
            "上市企业给予奖励300万元。",
            "Listed companies get CNY 3 million.",
            "奖励300万元",
            "CNY 3 million",
            300,
            False,
            [{"kind": "tag", "codes": ["listed"]}],
        ),
        (
            "startup",
            "初创企业首年补贴",
            "First-year start-up grant",
            "成立不满2年的小微企业，给予首年补贴。",
            "Micro and small firms under 2 years old get a first-year grant.",
            "补贴1万元",
            "CNY 10,000",
            1,
            True,
            [{"kind": "age", "op": "lte", "number": 2}, {"kind": "size", "codes": ["micro", "small"]}],
        ),
        (
            "logistics",
            "物流降本补贴",
            "Logistics cost subsidy",
            "仓储物流企业上年度营业收入增长不低于5%的，给予补贴。",
            "Logistics firms whose revenue grew at least 5% get a subsidy.",
            "补贴15万元",
            "CNY 150,000",
            15,
            False,
            [
                {"kind": "industry", "codes": ["59", "54"]},
                {"kind": "indicator", "metric": "revenue", "measure": "growth", "op": "gte", "number": 5},
            ],
        ),
        (
            "rd-2019",
            "研发投入后补助（已到期）",
            "R&D post-subsidy (expired)",
            "2019年研发投入后补助政策。",
            "The 2019 R&D post-subsidy.",
            "按研发投入10%",
            "10% of R&D spending",
            None,
            False,
            [{"kind": "tag", "codes": ["high-tech"]}],
        ),
    ]
    for code, title, title_en, text, text_en, benefit, benefit_en, amount, automatic, criteria in P_:
        from industry.models import Policy

        expired = code == "rd-2019"
        existing = Policy.objects.filter(code=code).values_list("id", flat=True).first()
        fields = {
            "title": title,
            "title_en": title_en,
            "text": text,
            "text_en": text_en,
            "benefit": benefit,
            "benefit_en": benefit_en,
            "amount": amount,
            "automatic": automatic,
            "department_id": market_id if code == "food-safety" else commerce_id,
            "valid_from": date(2019, 1, 1) if expired else vf,
            "valid_to": date(2019, 12, 31) if expired else vt,
            "status": "expired" if expired else "active",
        }
        criteria = [c for c in criteria if not (c["kind"] == "park" and not c.get("park_id"))]
        if existing:
            policy_save(policy_id=existing, criteria=criteria, **fields)
        else:
            policy_save(code=code, criteria=criteria, **fields)


APPEALS = [
    ("用电增容申请迟迟未批复", "Power capacity increase not yet approved", "submitted"),
    ("园区道路夜间施工噪音扰民", "Night construction noise on the park road", "accepted"),
    ("企业门前道路积水严重", "Serious flooding in front of the factory", "in_progress"),
    ("希望协调解决员工子女入学", "Help with school places for employees' children", "resolved"),
    ("消防验收流程咨询", "Fire inspection procedure", "closed"),
    ("要求减免租金", "Request for rent relief", "rejected"),
    ("货车通行证办理慢", "Slow truck permits", "closed"),
    ("污水管网接入问题", "Sewer connection problem", "in_progress"),
]


def _users_and_appeals(ctx, rng) -> None:
    from cityos.demo.city import DEMO_PASSWORD

    User = get_user_model()
    ents = list(Enterprise.objects.filter(source="demo", status="active").order_by("id")[:3])
    if len(ents) < 2:
        return
    links = [("qiye", ents[0], "滨江企业联络员"), ("qiye2", ents[0], "企业财务"), ("qiye3", ents[1], "企业办公室")]
    for username, ent, display in links:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={"role": Role.ENTERPRISE_USER, "display_name": display, "email": f"{username}@example.com"},
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        EnterpriseMember.objects.get_or_create(enterprise=ent, user=user)
        if hasattr(ctx, "logins"):
            ctx.logins.append((username, DEMO_PASSWORD, str(Role.ENTERPRISE_USER.label)))
    order = ["submitted", "accepted", "in_progress", "resolved", "closed"]
    for k, (title, _title_en, status) in enumerate(APPEALS):
        ent = ents[k % 2]
        if Appeal.objects.filter(enterprise=ent, title=title).exists():
            continue
        appeal = Appeal.objects.create(
            enterprise=ent,
            title=title,
            description=f"{title}，请相关部门协调处理。",
            status=status,
            tracking_number=f"DEMO-APPEAL-{k + 1:03d}" if status != "submitted" else "",
            reply="已办结，感谢反馈。"
            if status in ("resolved", "closed")
            else ("不符合减免条件。" if status == "rejected" else ""),
            rating=(5 - k % 3) if status == "closed" else None,
            closed_at=timezone.now() if status in ("closed", "rejected") else None,
        )
        path = order[: order.index(status) + 1] if status in order else ["submitted", "rejected"]
        prev = ""
        for st in path:
            AppealHistory.objects.create(appeal=appeal, from_status=prev, to_status=st, note=f"demo: {st}")
            prev = st
