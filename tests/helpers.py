"""Plain helpers shared by test modules (fixtures live in the conftest files)."""

from django.conf import settings


def child_database_url() -> str:
    """The URL of the database this test run uses, for child processes (worker, MQTT bridge)."""
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
