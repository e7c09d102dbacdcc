import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from cityos.asgi import application
from cityos.realtime import publish_to_user

pytestmark = pytest.mark.django_db(transaction=True)


def _session_headers(client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]


def test_it_pushes_an_event_to_the_users_open_page_through_redis(client, user):
    headers = _session_headers(client, user)

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await comm.connect(timeout=20)
        assert connected
        hello = await comm.receive_json_from(timeout=20)
        assert hello == {"event": "hello", "data": {"user": user.username}}
        # Published from synchronous code (as a service or a Celery task would), through Redis.
        await sync_to_async(publish_to_user)(user.id, "alert.raised", {"title": "PM2.5 > 150", "severity": "critical"})
        msg = await comm.receive_json_from(timeout=20)
        await comm.disconnect()
        return msg

    msg = asyncio.run(scenario())
    assert msg == {"event": "alert.raised", "data": {"title": "PM2.5 > 150", "severity": "critical"}}


def test_it_refuses_an_anonymous_socket():
    async def scenario():
        comm = WebsocketCommunicator(
            application, "/ws/live/", headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")]
        )
        connected, code = await comm.connect(timeout=20)
        return connected, code

    connected, code = asyncio.run(scenario())
    assert not connected
    assert code == 4401


def test_it_does_not_deliver_another_users_events(client, user):
    from tests.factories import make_user

    other = make_user()
    headers = _session_headers(client, user)

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        await comm.connect(timeout=20)
        await comm.receive_json_from(timeout=20)
        await sync_to_async(publish_to_user)(other.id, "private", {"x": 1})
        await sync_to_async(publish_to_user)(user.id, "mine", {"x": 2})
        msg = await comm.receive_json_from(timeout=20)
        await comm.disconnect()
        return msg

    assert asyncio.run(scenario())["event"] == "mine"
