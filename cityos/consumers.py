from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .realtime import BROADCAST_GROUP, department_group, user_group
from .roles import is_staff_role


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/live/`: an authenticated user's stream of live events (alerts, cases, readings)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        # Everyone gets their own notifications; only staff roles get the city's live operations
        # (the broadcast: alert changes, latest readings; their department's cases and runs).
        self.groups_joined = [user_group(user.id)]
        if is_staff_role(user):
            self.groups_joined.append(BROADCAST_GROUP)
            if user.department_id:
                self.groups_joined.append(department_group(user.department_id))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "hello", "data": {"user": user.username}})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"event": "pong", "data": content.get("data")})

    async def live_event(self, message):
        await self.send_json({"event": message["event"], "data": message["data"]})
