"""Cases read in words: translated statuses and actions, English names in English mode."""

import json
import re

import pytest
from django.test import override_settings
from django.utils import translation

from cityos.feed import event_line
from cityos.labels import action_label, code_label, event_label, status_label
from governance.services.cases import case_create, case_transition

pytestmark = pytest.mark.django_db


def _page(client, user, case_id, lang):
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client.get(f"/governance/cases/{case_id}/", headers={"accept-language": lang}).content.decode()


def test_the_timeline_and_buttons_read_in_chinese(client, city):
    case = case_create(channel="hotline", title="酒吧噪音", lon=city.P1[0], lat=city.P1[1])
    case_transition(case_id=case.id, action="accept", actor=city.officer)
    body = _page(client, city.officer, case.id, "zh-hans")
    assert "已派单 → 已签收" in body
    assert ">accept<" not in body and "dispatched →" not in body
    assert 'data-action="start">开始处置<' in body


def test_english_mode_shows_english_labels_and_names(client, city):
    city.urban.name_en = "Urban Management Bureau"
    city.urban.save()
    case = case_create(channel="hotline", title="loud bar noise", lon=city.P1[0], lat=city.P1[1])
    body = _page(client, city.officer, case.id, "en")
    assert "Urban Management Bureau" in body and "Jiangnan District" in body
    assert "Received → Dispatched" in body and "12345 hotline" in body


def test_labels_cover_every_kind_of_code():
    with translation.override("zh-hans"):
        assert status_label("in_progress") == "处理中" or status_label("in_progress") != "in_progress"
        assert action_label("dispatch") == "派单"
        assert event_label("case.overdue") == "工单超期"
        assert "something" not in event_label("case.something_new") and event_label("case.something_new")
        assert code_label("city_leader") != "city_leader"
    with translation.override("en"):
        assert event_label("alert.raised") == "Alert raised"


def test_the_feed_line_is_a_sentence_with_a_link(city):
    from datahub.models import Event

    case = case_create(channel="hotline", title="路灯不亮", lon=city.P1[0], lat=city.P1[1])
    event = Event.objects.filter(type="case.received", object_ref=f"governance:case:{case.id}").first()
    with translation.override("zh-hans"):
        line = event_line(event)
    assert line["url"] == f"/governance/cases/{case.id}/"
    assert line["text"].startswith("工单受理登记 · ") and case.tracking_number in line["text"]


def test_maps_use_the_configured_tile_server_or_the_citys_own_base(client, city):
    client.force_login(city.dispatcher)
    body = client.get("/governance/intake/").content.decode()
    assert 'id="cityos-map-config"' in body and '"tileUrl": ""' in body and "cityos/basemap.js" in body
    with override_settings(
        MAP_TILE_URL="https://tiles.example/{z}/{x}/{y}.png", MAP_TILE_ATTRIBUTION="© Example contributors"
    ):
        body = client.get("/governance/intake/").content.decode()
    config = re.search(r'<script id="cityos-map-config" type="application/json">(.*?)</script>', body).group(1)
    config = json.loads(config)
    assert config["tileUrl"] == "https://tiles.example/{z}/{x}/{y}.png"
    assert config["attribution"] == "© Example contributors"
