"""Governance factories: a small city (district > street > 2 grids), departments, categories, rules."""

import itertools
from pathlib import Path

from django.contrib.gis.gdal import DataSource
from django.contrib.gis.geos import MultiPolygon, Polygon

from cityos.roles import Role
from datahub.models import Area
from governance.models import Category, ClassifierRule, DispatchCentre, DispatchRule
from tests.factories import make_department, make_user

_seq = itertools.count(1)


def _rect(x0, y0, x1, y1) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=4326)


def make_category(*, parent=None, **kw) -> Category:
    n = next(_seq)
    return Category.objects.create(
        code=kw.pop("code", f"cat-{n}"),
        name=kw.pop("name", f"类别{n}"),
        name_en=kw.pop("name_en", f"Category {n}"),
        parent=parent,
        service_code=kw.pop("service_code", f"SC{n:03d}"),
        **kw,
    )


def make_area(*, level="district", parent=None, rect=(120.0, 30.0, 120.1, 30.1), **kw) -> Area:
    n = next(_seq)
    return Area.objects.create(
        code=kw.pop("code", f"A{n}"),
        name=kw.pop("name", f"区域{n}"),
        name_en=kw.pop("name_en", f"Area {n}"),
        level=level,
        parent=parent,
        geometry=_rect(*rect),
        **kw,
    )


class MiniCity:
    """江南区 (120.0–120.1, 30.0–30.1) > 长安街道 (west half) > grids 1 (south) and 2 (north);
    城管局 handles 噪音 (noise) and 市容 (litter); the hotline centre dispatches."""

    def __init__(self):
        from governance.services.classification import classifier_cache_reset
        from governance.services.location import gazetteer_reset
        from governance.services.refcache import refcache_reset_all

        classifier_cache_reset()
        gazetteer_reset()
        self.district = make_area(level="district", name="江南区", name_en="Jiangnan District")
        self.street = make_area(
            level="street", parent=self.district, rect=(120.0, 30.0, 120.05, 30.1), name="长安街道", name_en="Chang'an"
        )
        self.grid1 = make_area(level="grid", parent=self.street, rect=(120.0, 30.0, 120.05, 30.05), name="长安第1网格")
        self.grid2 = make_area(level="grid", parent=self.street, rect=(120.0, 30.05, 120.05, 30.1), name="长安第2网格")
        self.hotline = make_department(name="12345热线", code=f"hotline-{next(_seq)}")
        DispatchCentre.objects.create(department=self.hotline)
        refcache_reset_all()
        self.urban = make_department(name="城市管理局")
        self.env = make_department(name="生态环境局")
        self.dispatcher = make_user(department=self.hotline)
        self.officer = make_user(department=self.urban)
        self.officer2 = make_user(department=self.urban)
        self.env_officer = make_user(department=self.env)
        self.grid_worker = make_user(role=Role.GRID_WORKER, department=None)
        self.environment = make_category(code=f"environment-{next(_seq)}", name="环境", name_en="Environment")
        self.noise = make_category(parent=self.environment, name="噪音扰民", name_en="Noise", group="environment")
        self.litter = make_category(name="市容环境", name_en="Litter", default_department=self.urban)
        ClassifierRule.objects.create(category=self.noise, keywords="噪音,噪声,吵,noise,loud")
        ClassifierRule.objects.create(category=self.litter, keywords="垃圾,乱扔,litter,garbage")
        DispatchRule.objects.create(category=self.environment, department=self.env)
        DispatchRule.objects.create(category=self.noise, area=self.district, department=self.urban)
        classifier_cache_reset()
        gazetteer_reset()
        refcache_reset_all()

    # A point inside grid 1 and one inside grid 2.
    P1 = (120.02, 30.02)
    P2 = (120.02, 30.08)


def load_nyc_areas(data_dir: Path) -> dict[str, int]:
    """NYC boroughs (level district) and neighbourhoods (level community), straight from the GeoJSON.

    Stands in for the areas importer another team is building; returns {"boroughs": n, "neighbourhoods": n}.
    """
    from django.contrib.gis.geos import GEOSGeometry

    base = data_dir / "nyc_311_sample_and_boundaries"
    boroughs = {}
    for i, feat in enumerate(DataSource(str(base / "nyc_borough_boundaries.geojson"))[0], start=1):
        name = feat.get("boro_name")
        geom = GEOSGeometry(feat.geom.wkt, srid=4326)
        geom = geom if geom.geom_type == "MultiPolygon" else MultiPolygon(geom, srid=4326)
        boroughs[name] = Area.objects.create(
            code=f"NYC-B{i}", name=name, name_en=name, level="district", geometry=geom, centroid=geom.centroid
        )
    n = 0
    for i, feat in enumerate(DataSource(str(base / "nyc_neighborhoods.geojson"))[0], start=1):
        geom = GEOSGeometry(feat.geom.wkt, srid=4326)
        geom = geom if geom.geom_type == "MultiPolygon" else MultiPolygon(geom, srid=4326)
        Area.objects.create(
            code=f"NYC-N{i}",
            name=feat.get("neighborhood"),
            name_en=feat.get("neighborhood"),
            level="community",
            parent=boroughs.get(feat.get("borough")),
            geometry=geom,
        )
        n += 1
    return {"boroughs": len(boroughs), "neighbourhoods": n}


def local(*args):
    """An aware datetime in the project's time zone (Asia/Shanghai)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return datetime(*args, tzinfo=ZoneInfo(settings.TIME_ZONE))
