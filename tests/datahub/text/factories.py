import itertools

from datahub.models import Area, Entity
from datahub.text.services.internet import internet_source_create

_seq = itertools.count(1)


def make_source(*, connector: str = "rss", config: dict | None = None, **kw):
    n = next(_seq)
    cfg = {"min_interval_s": 0, "retries": 1, "backoff_s": 0.05, "timeout_s": 2, **(config or {})}
    return internet_source_create(
        code=kw.pop("code", f"src-{n}"), name=kw.pop("name", f"来源{n}"), connector=connector, config=cfg, **kw
    )


def make_places() -> dict[str, Area]:
    """A small gazetteer: two districts, two streets (Chinese and English names)."""
    n = next(_seq)
    city = Area.objects.create(code=f"t{n}", name="测试市", name_en="Test City", level="city")
    jn = Area.objects.create(code=f"t{n}01", name="江南区", name_en="Jiangnan District", level="district", parent=city)
    bh = Area.objects.create(code=f"t{n}02", name="滨湖区", name_en="Binhu District", level="district", parent=city)
    ca = Area.objects.create(
        code=f"t{n}0101", name="长安街道", name_en="Chang'an Subdistrict", level="street", parent=jn
    )
    hp = Area.objects.create(code=f"t{n}0201", name="和平街道", name_en="Heping Subdistrict", level="street", parent=bh)
    return {"city": city, "jiangnan": jn, "binhu": bh, "changan": ca, "heping": hp}


def make_entity(*, name: str, name_en: str = "", type: str = "enterprise") -> Entity:  # noqa: A002
    return Entity.objects.create(type=type, name=name, name_en=name_en)
