from django.urls import path

from livelihood.consumers import PortalConsumer

from .consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/portal/", PortalConsumer.as_asgi()),
]
