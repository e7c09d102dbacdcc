"""The bundled training corpus: citizen posts composed from phrase banks (deterministic, seeded).

How it is built: for every topic and language there is a bank of subjects ("地铁2号线", "the
bus lane on Renmin Road") and of negative / neutral / positive predicates; a sample is a frame
("{x}，希望有关部门尽快处理" / "Why is it that {x}?") around subject + predicate, so topic and
sentiment vary independently. The evaluation set (tests/datahub/fixtures/opinion_eval.jsonl) is
written separately, by hand, in other words and sentence shapes: no sample of one is in the other
(a test checks it). Admins improve the model by adding labelled rows to `extra_path` and running
`manage.py text_train`.
"""

import json
import random
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from datahub.text.nlp.tokens import tokenize

DATA_DIR = Path(__file__).resolve().parent / "data"

# topic -> (zh subjects, en subjects, zh neg, zh pos, en neg, en pos)
BANKS: dict[str, dict[str, list[str]]] = {
    "traffic": {
        "zh_s": [
            "地铁2号线",
            "长安路口的红绿灯",
            "高架桥早高峰",
            "公交车站",
            "快速路匝道",
            "停车场",
            "学校门口的道路",
            "共享单车停放点",
            "出租车",
            "环城路",
            "过街天桥",
            "隧道",
        ],
        "en_s": [
            "the metro line 2",
            "the traffic lights at the junction",
            "the ring road at rush hour",
            "the bus stop",
            "the flyover ramp",
            "the car park",
            "the road outside the school",
            "the bike share racks",
            "taxis",
            "the tunnel",
            "parking on the street",
            "the bus route",
        ],
        "zh_n": [
            "堵得水泄不通",
            "信号灯坏了没人修",
            "乱停车占道严重",
            "班次太少等了四十分钟",
            "路面坑洼不平",
            "经常发生剐蹭事故",
        ],
        "zh_p": ["通行顺畅多了", "新增的公交线路很方便", "拥堵明显缓解", "停车位增加了"],
        "en_n": [
            "is jammed for an hour every morning",
            "has broken signals nobody fixes",
            "is blocked by illegal parking",
            "buses come only every forty minutes",
            "is full of potholes",
            "sees crashes every week",
        ],
        "en_p": [
            "flows much better now",
            "got a convenient new bus route",
            "has far less congestion",
            "has more parking spaces",
        ],
    },
    "environment": {
        "zh_s": [
            "河道",
            "小区旁边的化工厂",
            "垃圾中转站",
            "工地扬尘",
            "空气质量",
            "湖边绿化带",
            "餐馆油烟",
            "夜间施工噪音",
            "污水排放口",
            "垃圾分类点",
            "公园的树木",
            "江边湿地",
        ],
        "en_s": [
            "the river",
            "the chemical plant next to the estate",
            "the waste transfer station",
            "dust from the building site",
            "the air quality",
            "the lakeside green belt",
            "restaurant fumes",
            "night-time construction noise",
            "the sewage outfall",
            "the recycling point",
            "the trees in the park",
            "the wetland by the river",
        ],
        "zh_n": ["发黑发臭", "排放刺鼻的气味", "噪音吵得睡不着", "雾霾严重", "垃圾堆积没人清运", "污水直接排进河里"],
        "zh_p": ["水变清了", "环境越来越好", "空气清新了很多", "绿化做得很漂亮"],
        "en_n": [
            "stinks and has turned black",
            "gives off an acrid smell",
            "is so loud nobody can sleep",
            "is thick with smog",
            "has rubbish piling up uncollected",
            "dumps sewage straight into the water",
        ],
        "en_p": ["is clean again", "looks greener every year", "feels much fresher", "has been beautifully planted"],
    },
    "public_safety": {
        "zh_s": [
            "小区治安",
            "夜里的巷子",
            "电动车充电",
            "消防通道",
            "井盖",
            "菜市场",
            "路灯",
            "老旧电梯",
            "燃气管道",
            "广场舞场地",
            "网吧门口",
            "河边护栏",
        ],
        "en_s": [
            "security on the estate",
            "the alley at night",
            "e-bike charging in the corridor",
            "the fire lane",
            "a manhole cover",
            "the wet market",
            "the street lights",
            "the old lift",
            "the gas pipe",
            "the square",
            "the internet cafe entrance",
            "the railing by the river",
        ],
        "zh_n": ["发生了盗窃", "有人打架斗殴", "被杂物堵死了", "存在火灾隐患", "丢失了很危险", "有诈骗分子出没"],
        "zh_p": ["巡逻加强后安心多了", "安全隐患及时排除了", "民警处置很迅速", "安装了监控很安全"],
        "en_n": [
            "had another burglary",
            "saw a fight break out",
            "is blocked by junk",
            "is a fire hazard",
            "is missing and someone could fall in",
            "has scammers targeting the elderly",
        ],
        "en_p": [
            "feels safe since patrols increased",
            "had its hazard removed quickly",
            "was handled fast by the police",
            "now has cameras and feels secure",
        ],
    },
    "utilities": {
        "zh_s": [
            "自来水",
            "小区停电",
            "燃气供应",
            "暖气",
            "水压",
            "宽带网络",
            "路灯供电",
            "供水管道",
            "电费",
            "水表",
            "变压器",
            "排水管网",
        ],
        "en_s": [
            "the tap water",
            "the power on our estate",
            "the gas supply",
            "the heating",
            "the water pressure",
            "the broadband",
            "the street lighting supply",
            "the water main",
            "the electricity bill",
            "the water meter",
            "the transformer",
            "the drains",
        ],
        "zh_n": ["停了一整天没有通知", "水是黄色的有异味", "管道爆裂漏水", "一直不热", "信号时断时续", "跳闸好几次"],
        "zh_p": ["抢修很及时", "很快恢复了供应", "维修师傅很负责", "水质改善了"],
        "en_n": [
            "has been off all day with no notice",
            "comes out yellow and smells",
            "burst and is leaking",
            "never gets warm",
            "keeps dropping out",
            "tripped several times",
        ],
        "en_p": [
            "was repaired very quickly",
            "came back within the hour",
            "was fixed by a very helpful crew",
            "tastes better now",
        ],
    },
    "housing": {
        "zh_s": [
            "老旧小区改造",
            "物业公司",
            "房租",
            "保障性住房",
            "楼道",
            "房屋漏水",
            "外墙",
            "加装电梯",
            "二手房交易",
            "小区停车收费",
            "开发商交房",
            "公租房申请",
        ],
        "en_s": [
            "the old estate renovation",
            "the property management company",
            "the rent",
            "affordable housing",
            "the stairwell",
            "the leaking flat",
            "the outside wall",
            "the new lift installation",
            "the second-hand home sale",
            "estate parking fees",
            "the developer handover",
            "the public rental application",
        ],
        "zh_n": [
            "拖了一年还没完工",
            "乱收费不作为",
            "涨得太离谱",
            "墙皮脱落严重",
            "漏水几个月没人管",
            "交房延期业主维权",
        ],
        "zh_p": ["改造后焕然一新", "物业服务很贴心", "审批很顺利", "住得很舒心"],
        "en_n": [
            "has dragged on for a year",
            "charges fees and does nothing",
            "went up outrageously",
            "has plaster falling off",
            "has leaked for months with no repair",
            "was delayed and owners are protesting",
        ],
        "en_p": [
            "looks brand new after the work",
            "offers really caring service",
            "was approved smoothly",
            "makes living here comfortable",
        ],
    },
    "health": {
        "zh_s": [
            "社区医院",
            "挂号",
            "急诊",
            "疫苗接种",
            "医保报销",
            "药店",
            "体检中心",
            "家庭医生",
            "救护车",
            "儿童医院",
            "养老院",
            "食品安全",
        ],
        "en_s": [
            "the community clinic",
            "booking a doctor",
            "the emergency room",
            "the vaccination",
            "insurance reimbursement",
            "the pharmacy",
            "the health check centre",
            "the family doctor",
            "the ambulance",
            "the children's hospital",
            "the care home",
            "food safety",
        ],
        "zh_n": ["排队三个小时", "医生态度很差", "号根本挂不上", "报销手续太麻烦", "药品价格太贵", "吃了以后拉肚子"],
        "zh_p": ["医生很耐心", "看病方便多了", "服务周到", "报销很快到账"],
        "en_n": [
            "means a three-hour queue",
            "had a rude doctor",
            "is impossible to get",
            "involves endless paperwork",
            "is far too expensive",
            "made my family sick",
        ],
        "en_p": ["has very patient doctors", "is much easier now", "gave thoughtful care", "paid out quickly"],
    },
    "education": {
        "zh_s": [
            "学区划分",
            "幼儿园入园",
            "小学放学",
            "课后托管",
            "学校食堂",
            "校车",
            "中考招生",
            "培训机构",
            "校园操场",
            "图书馆自习室",
            "教师",
            "课外辅导",
        ],
        "en_s": [
            "the school catchment",
            "kindergarten admission",
            "primary school pick-up",
            "after-school care",
            "the school canteen",
            "the school bus",
            "the high school entrance",
            "the tutoring centre",
            "the school playground",
            "the library study room",
            "the teachers",
            "homework support",
        ],
        "zh_n": ["政策不透明", "名额太少抢不到", "饭菜质量差", "收费太高", "跑路退费难", "安排很不合理"],
        "zh_p": ["老师很负责", "孩子很喜欢", "安排得很合理", "家长都很满意"],
        "en_n": [
            "is unclear and unfair",
            "has far too few places",
            "serves poor food",
            "costs too much",
            "closed and will not refund",
            "is badly organised",
        ],
        "en_p": ["has dedicated teachers", "is loved by the kids", "is well organised", "pleases all the parents"],
    },
    "business": {
        "zh_s": [
            "营业执照办理",
            "小微企业贷款",
            "商场",
            "夜市摊位",
            "外卖平台",
            "招聘会",
            "工资",
            "网购退货",
            "企业补贴",
            "菜价",
            "个体户税费",
            "产业园区",
        ],
        "en_s": [
            "the business licence",
            "small business loans",
            "the shopping mall",
            "the night market stalls",
            "the delivery platform",
            "the job fair",
            "wages",
            "the online return",
            "the enterprise subsidy",
            "vegetable prices",
            "self-employed taxes",
            "the industrial park",
        ],
        "zh_n": [
            "跑了五趟还没办下来",
            "拖欠工资几个月",
            "商家虚假宣传",
            "价格涨得离谱",
            "退款迟迟不到账",
            "门店突然关门",
        ],
        "zh_p": ["一网通办很方便", "补贴及时到位", "生意越来越好", "营商环境改善了"],
        "en_n": [
            "took five visits and still is not done",
            "has been unpaid for months",
            "was falsely advertised",
            "shot up in price",
            "has not been refunded",
            "shut down overnight",
        ],
        "en_p": ["was done online in minutes", "arrived on time", "is booming", "shows a better business climate"],
    },
    "culture": {
        "zh_s": [
            "博物馆",
            "图书馆",
            "音乐节",
            "社区文化活动",
            "体育馆",
            "电影院",
            "非遗展览",
            "灯会",
            "剧院演出",
            "全民健身步道",
            "公园音乐会",
            "书店",
        ],
        "en_s": [
            "the museum",
            "the public library",
            "the music festival",
            "the community arts programme",
            "the sports hall",
            "the cinema",
            "the heritage exhibition",
            "the lantern festival",
            "the theatre show",
            "the fitness trail",
            "the concert in the park",
            "the bookshop",
        ],
        "zh_n": ["预约太难", "开放时间太短", "票价太贵", "组织混乱", "设施陈旧", "临时取消了"],
        "zh_p": ["办得很精彩", "内容丰富", "周末带孩子去很开心", "免费开放真好"],
        "en_n": [
            "is impossible to book",
            "opens for too few hours",
            "charges too much",
            "was chaotic",
            "has worn-out facilities",
            "was cancelled at short notice",
        ],
        "en_p": ["was wonderful", "had a rich programme", "made a lovely weekend with the kids", "is free and great"],
    },
    "other": {
        "zh_s": [
            "政务热线",
            "社区办事",
            "户籍证明",
            "身份证补办",
            "志愿者",
            "居委会",
            "天气",
            "节假日安排",
            "快递",
            "宠物",
            "邻里纠纷",
            "网站",
        ],
        "en_s": [
            "the government hotline",
            "community paperwork",
            "the residence certificate",
            "replacing an ID card",
            "the volunteers",
            "the residents committee",
            "the weather",
            "the holiday schedule",
            "parcels",
            "pets",
            "a dispute with neighbours",
            "the website",
        ],
        "zh_n": ["打了十几次都没人接", "来回踢皮球", "效率太低", "态度很冷漠", "没人回复", "一拖再拖"],
        "zh_p": ["工作人员很热情", "办理很顺利", "帮了大忙", "回复很及时"],
        "en_n": [
            "never answers after a dozen calls",
            "passes me from desk to desk",
            "is painfully slow",
            "treated me coldly",
            "never replied",
            "keeps being postponed",
        ],
        "en_p": ["staff were warm and friendly", "went smoothly", "was a great help", "replied promptly"],
    },
}

ZH_NEUTRAL = ["情况想了解一下", "有没有新的安排", "什么时候调整", "归哪个部门管", "办理需要什么材料", "下周有变化"]
EN_NEUTRAL = [
    "what the plan is",
    "who is responsible",
    "when it will change",
    "which documents are needed",
    "how the schedule works",
    "where to ask",
]

FRAMES = {
    ("zh", "negative"): [
        "{s}{p}，希望有关部门尽快处理！",
        "投诉：{s}{p}，太让人失望了",
        "{s}{p}，已经反映多次了",
        "受不了了，{s}{p}",
        "{s}{p}，谁来管管？",
    ],
    ("zh", "positive"): [
        "{s}{p}，点赞！",
        "感谢政府，{s}{p}",
        "{s}{p}，为相关部门点赞",
        "表扬一下，{s}{p}",
        "好消息，{s}{p}",
    ],
    ("zh", "neutral"): ["请问{s}{p}？", "咨询：{s}{p}", "关于{s}，想问{p}", "{s}，{p}？", "市民询问{s}{p}"],
    ("en", "negative"): [
        "Terrible: {s} {p}. Please fix it!",
        "Complaint: {s} {p} and nobody cares",
        "Again {s} {p}. Fed up.",
        "Why is it that {s} {p}?",
        "Unacceptable that {s} {p}",
    ],
    ("en", "positive"): [
        "Great news, {s} {p}!",
        "Thanks to the city, {s} {p}",
        "Well done: {s} {p}",
        "Happy to say {s} {p}",
        "Credit where due, {s} {p}",
    ],
    ("en", "neutral"): [
        "Question about {s}: {p}?",
        "Could someone tell me about {s}, {p}?",
        "Enquiry on {s}, {p}",
        "Does anyone know about {s} and {p}?",
        "Asking about {s}: {p}",
    ],
}


@dataclass(frozen=True)
class Sample:
    text: str
    language: str
    topic: str
    sentiment: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def tokens(self) -> list[str]:
        return tokenize(self.text, self.language)


def predicates(*, topic: str, lang: str, sentiment: str) -> list[str]:
    """What a post about `topic` says, in `lang`, with `sentiment` (neutral ones are topic-free)."""
    if sentiment == "neutral":
        return ZH_NEUTRAL if lang == "zh" else EN_NEUTRAL
    return BANKS[topic][f"{lang}_{'n' if sentiment == 'negative' else 'p'}"]


def synthetic_post(rng: random.Random, *, topic: str, lang: str, sentiment: str, place: str = "") -> str:
    """One synthetic citizen post (the demo's forum and the text benchmark): a frame, a subject of
    `topic` after `place`, a predicate. The draws come in that order, so a seed gives the same posts."""
    frame = rng.choice(FRAMES[(lang, sentiment)])
    subject = place + rng.choice(BANKS[topic][f"{lang}_s"])
    return frame.format(s=subject, p=rng.choice(predicates(topic=topic, lang=lang, sentiment=sentiment)))


def generate(*, per_combo: int = 30, seed: int = 7) -> list[Sample]:
    """The training set: every topic × language × sentiment, `per_combo` distinct texts each."""
    rng = random.Random(seed)
    out, seen = [], set()
    for topic, bank in BANKS.items():
        for lang in ("zh", "en"):
            for sentiment in ("negative", "neutral", "positive"):
                preds = predicates(topic=topic, lang=lang, sentiment=sentiment)
                for _ in range(per_combo):
                    s, p = rng.choice(bank[f"{lang}_s"]), rng.choice(preds)
                    text = rng.choice(FRAMES[(lang, sentiment)]).format(s=s, p=p)
                    if lang == "en":
                        text = text[0].upper() + text[1:]
                    if text not in seen:
                        seen.add(text)
                        out.append(Sample(text, lang, topic, sentiment))
    return out


def load_jsonl(path: Path) -> list[Sample]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        row = json.loads(line)
        out.append(Sample(row["text"], row["language"], row["topic"], row["sentiment"], {"line": n}))
    return out


@lru_cache(maxsize=1)
def training_samples() -> tuple[Sample, ...]:
    extra = DATA_DIR / "train_extra.jsonl"
    return tuple(generate() + (load_jsonl(extra) if extra.exists() else []))
