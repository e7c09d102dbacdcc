"""The starting keyword rulebook (admins edit it in the admin: Topic rules)."""

from django.db import migrations

RULES = {
    "traffic": ["堵车", "拥堵", "红绿灯", "地铁", "公交", "停车", "违停", "车道", "traffic", "congestion", "bus", "metro", "parking", "pothole"],
    "environment": ["污染", "垃圾", "噪音", "油烟", "扬尘", "河道", "异味", "pollution", "rubbish", "litter", "noise", "smog", "sewage"],
    "public_safety": ["治安", "盗窃", "火灾", "消防", "诈骗", "井盖", "打架", "theft", "burglary", "fire", "police", "scam"],
    "utilities": ["停水", "停电", "燃气", "自来水", "暖气", "供水", "水压", "power cut", "outage", "water supply", "heating", "gas leak"],
    "housing": ["物业", "房租", "小区", "漏水", "业主", "加装电梯", "landlord", "rent", "tenant", "property management"],
    "health": ["医院", "挂号", "医生", "医保", "疫苗", "hospital", "clinic", "doctor", "vaccine", "ambulance"],
    "education": ["学校", "幼儿园", "学区", "老师", "招生", "school", "kindergarten", "teacher", "pupils"],
    "business": ["营业执照", "拖欠工资", "商家", "企业", "退款", "business licence", "unpaid wages", "shop", "refund"],
    "culture": ["博物馆", "图书馆", "演出", "音乐节", "展览", "museum", "library", "concert", "festival", "exhibition"],
    "other": ["热线", "户籍", "身份证", "hotline", "ID card"],
}


def seed(apps, schema_editor):
    TopicRule = apps.get_model("datahub", "TopicRule")
    for topic, words in RULES.items():
        for word in words:
            TopicRule.objects.get_or_create(topic=topic, keyword=word, defaults={"weight": 1.0})


def unseed(apps, schema_editor):
    TopicRule = apps.get_model("datahub", "TopicRule")
    for topic, words in RULES.items():
        TopicRule.objects.filter(topic=topic, keyword__in=words).delete()


class Migration(migrations.Migration):
    dependencies = [("datahub", "0002_documents")]
    operations = [migrations.RunPython(seed, unseed)]
