"""Issue an API key for an application and print it once: manage.py api_key_create APP_ID NAME --scope datasets:read …"""

from django.core.management.base import BaseCommand, CommandError

from cityos.api import keys
from cityos.models import ApiApplication


class Command(BaseCommand):
    help = "Issue an API key (the secret is printed once and stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("application_id", type=int)
        parser.add_argument("name")
        parser.add_argument("--scope", action="append", default=[], help=f"one of: {', '.join(keys.ALL_SCOPES)}")
        parser.add_argument("--allow-ip", action="append", default=[])

    def handle(self, *args, application_id, name, scope, allow_ip, **options):
        app = ApiApplication.objects.filter(id=application_id).first()
        if app is None:
            raise CommandError(f"application {application_id}: no such application")
        try:
            _key, text = keys.api_key_create(application=app, name=name, scopes=scope, ip_allowlist=allow_ip)
        except ValueError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(text)
