import random

import pytest

from governance.models import Case, ClassifierModel, ClassifierRule
from governance.services.cases import case_create
from governance.services.classification import case_classify_text, category_correct, classifier_train

pytestmark = pytest.mark.django_db

NOISE = [
    "楼上装修电钻声太吵",
    "广场舞音响声音太大",
    "工地夜间施工噪音扰民",
    "酒吧音乐声很吵睡不着",
    "loud music from the bar at night",
    "construction noise after midnight",
    "邻居家狗叫声吵闹",
    "KTV噪声很大",
]
LITTER = [
    "小区垃圾桶满了没人清运",
    "路边垃圾成堆发臭",
    "有人乱扔建筑垃圾",
    "河边很多白色垃圾",
    "garbage piled up on the street",
    "overflowing litter bins near the park",
    "餐厨垃圾无人处理",
    "绿化带里有大量垃圾",
]


def _history(city, n=30):
    rng = random.Random(1)
    for i in range(n):
        cat, texts = (city.noise, NOISE) if i % 2 else (city.litter, LITTER)
        case_create(channel="api", title=rng.choice(texts), category_id=cat.id, auto_dispatch=False)


def test_it_trains_a_model_on_past_cases_and_uses_it(city):
    ClassifierRule.objects.all().delete()  # the model alone must do it
    _history(city, 40)
    model_id = classifier_train()
    assert ClassifierModel.objects.get(pk=model_id).trained_on == 40
    zh = case_classify_text(text="晚上工地施工太吵了")
    en = case_classify_text(text="garbage bins overflowing")
    assert (zh.category_id, zh.source) == (city.noise.id, "model")
    assert en.category_id == city.litter.id and 0 < en.confidence <= 1


def test_it_does_not_train_on_too_few_cases(city):
    _history(city, 6)
    assert classifier_train() is None and not ClassifierModel.objects.exists()


def test_the_rulebook_decides_without_a_model(city):
    result = case_classify_text(text="The bar is too loud")
    assert result.category_id == city.noise.id and result.source == "rules"
    assert case_classify_text(text="路灯坏了").category_id is None


def test_an_officers_correction_feeds_retraining(city):
    _history(city, 30)
    case = Case.objects.filter(category=city.noise).first()
    category_correct(case_id=case.id, category_id=city.litter.id, actor=city.officer)
    classifier_train()
    from governance.services.classification import _training_data

    texts, labels = _training_data()
    corrected = [lab for t, lab in zip(texts, labels, strict=True) if t == f"{case.title} {case.description}"]
    assert city.litter.id in corrected
    assert ClassifierModel.objects.get(is_active=True).trained_on == 30
