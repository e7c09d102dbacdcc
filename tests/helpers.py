"""Plain helpers shared by test modules (fixtures live in the conftest files)."""

import socket

from django.conf import settings


def child_database_url() -> str:
    """The URL of the database this test run uses, for child processes (worker, MQTT bridge)."""
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def free_port() -> int:
    """A TCP port nobody listens on right now (for a private broker, server or SMTP sink)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
