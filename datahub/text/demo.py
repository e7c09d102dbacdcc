"""Demo step: an internet source with a few hundred deterministic citizen posts (some reposted,
a burst of negative traffic complaints in one district), run through the real pipeline."""

import random
from datetime import timedelta

from django.utils import timezone

from datahub.core.models import Area, Run
from datahub.text.models import Document
from datahub.text.nlp.training import BANKS, synthetic_post
from datahub.text.services.documents import RawItem, documents_ingest
from datahub.text.services.internet import internet_source_create

N_POSTS = 360


def demo_posts(*, seed: int, districts: list[Area], streets: list[Area], now) -> list[RawItem]:
    rng = random.Random(seed)
    items = []
    for i in range(N_POSTS):
        topic = rng.choice(list(BANKS))
        lang = "zh" if rng.random() < 0.7 else "en"
        sentiment = rng.choices(["negative", "neutral", "positive"], weights=[5, 3, 2])[0]
        street = rng.choice(streets)
        place = street.name if lang == "zh" else f"{street.name_en} "
        text = synthetic_post(rng, topic=topic, lang=lang, sentiment=sentiment, place=place)
        published = now - timedelta(hours=rng.uniform(1, 14 * 24))
        items.append(
            RawItem(
                title=text[:40],
                body=text,
                author=f"citizen{rng.randint(1, 500)}",
                url=f"https://bbs.binjiang.example/t/{seed}-{i}",
                published_at=published,
                external_id=f"demo-{i}",
            )
        )
        if rng.random() < 0.15:  # a repost of the same story
            items.append(
                RawItem(
                    title=text[:40],
                    body="转发：" + text,
                    author=f"citizen{rng.randint(1, 500)}",
                    url=f"https://weibo.binjiang.example/r/{seed}-{i}",
                    published_at=published + timedelta(minutes=rng.randint(5, 300)),
                    external_id=f"demo-{i}-repost",
                )
            )
    # A burst: a broken traffic light in one district, many angry posts in the last hours.
    hot = districts[0]
    for j in range(12):
        items.append(
            RawItem(
                title=f"{hot.name}路口红绿灯又坏了",
                body=f"{hot.name}人民路口的红绿灯坏了{j + 2}个小时，堵得水泄不通，没人管！第{j + 1}位市民投诉",
                published_at=now - timedelta(minutes=10 + 15 * j),
                external_id=f"demo-burst-{j}",
            )
        )
    return items


def build_internet_data(ctx) -> None:
    source = internet_source_create(
        code="demo-citizen-forum",
        name="滨江市民论坛 / Binjiang citizen forum",
        connector="push",
        config={"items_path": "items"},
    )
    internet_source_create(
        code="demo-city-news-rss",
        name="滨江新闻 RSS",
        connector="rss",
        config={"url": "https://news.binjiang.example/rss.xml"},
        every_minutes=30,
    )
    if Document.objects.filter(source=source).exists():
        return  # idempotent: the posts are generated once (their times are relative to the first build)
    districts = list(Area.objects.filter(level="district").order_by("code"))
    streets = list(Area.objects.filter(level="street").order_by("code"))
    if not districts or not streets:
        return
    items = demo_posts(seed=ctx.seed, districts=districts, streets=streets, now=timezone.now())
    run = Run.objects.create(source=source, status=Run.Status.RUNNING, started_at=timezone.now())
    result = documents_ingest(source_id=source.id, run_id=run.id, items=items)
    Run.objects.filter(id=run.id).update(
        status=Run.Status.SUCCEEDED,
        finished_at=timezone.now(),
        progress=1.0,
        rows_read=result.read,
        rows_stored=result.stored,
        rows_rejected=result.rejected,
    )
