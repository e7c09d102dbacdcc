"""Local development and the demo city (`./run demo`).

DEBUG stays off as in production (base.py); a developer who wants Django's debug pages sets
CITYOS_DEBUG=1 explicitly. Static files are served by WhiteNoise either way.
"""

from .base import *  # noqa: F403
from .base import env

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
