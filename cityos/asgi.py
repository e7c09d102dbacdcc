"""ASGI entry point: HTTP through Django, WebSockets through Channels (authenticated sessions)."""

import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityos.settings.local")
os.environ["CITYOS_ASGI"] = "1"  # no persistent DB connections in this process (see settings.base)
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from cityos.routing import websocket_urlpatterns  # noqa: E402

# Import every view now (as gunicorn's --preload would), not on a worker's first request: with
# several web processes behind one socket, each would otherwise make one unlucky request wait
# for the URLconf's imports (scikit-learn, jieba…), seconds on this machine.
get_resolver().url_patterns  # noqa: B018 - evaluated for its side effect

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
