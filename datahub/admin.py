"""Admin pages of the datahub: each capability registers its own (`datahub/<capability>/admin.py`)."""

from datahub.core import admin as core_admin  # noqa: F401
from datahub.datasets import admin as datasets_admin  # noqa: F401
from datahub.iot import admin as iot_admin  # noqa: F401
from datahub.monitoring import admin as monitoring_admin  # noqa: F401
from datahub.text import admin as text_admin  # noqa: F401
