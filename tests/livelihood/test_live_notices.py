import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from cityos.asgi import application
from livelihood.services.notices import notice_save, notice_set_status
from tests.factories import make_department

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_published_notice_reaches_an_anonymous_portal_page_live():
    dept = make_department()

    def publish():
        n = notice_save(department_id=dept.id, title="明日停水", body="正文")
        notice_set_status(notice_id=n.id, status="published")  # pushed after commit (autocommit here)
        return n.id

    async def scenario():
        comm = WebsocketCommunicator(
            application, "/ws/portal/", headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")]
        )
        connected, _ = await comm.connect(timeout=20)
        assert connected  # no login needed
        notice_id = await sync_to_async(publish)()
        msg = await comm.receive_json_from(timeout=20)
        await comm.disconnect()
        return notice_id, msg

    notice_id, msg = asyncio.run(scenario())
    assert msg["event"] == "livelihood.notice"
    assert msg["data"]["title"] == "明日停水" and msg["data"]["url"] == f"/portal/notices/{notice_id}/"
