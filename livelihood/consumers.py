from channels.generic.websocket import AsyncJsonWebsocketConsumer

PORTAL_GROUP = "livelihood.portal"


class PortalConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/portal/`: the public portal's stream (new notices); no login, nothing personal is sent on it."""

    async def connect(self):
        await self.channel_layer.group_add(PORTAL_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(PORTAL_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"event": "pong", "data": None})

    async def live_event(self, message):
        await self.send_json({"event": message["event"], "data": message["data"]})
