from django.core.management.base import BaseCommand

from cityos.demo import build_demo_city


class Command(BaseCommand):
    help = "Generate (or refresh) the deterministic demo city: departments, areas, users and more."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=20261124)
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins")

    def handle(self, *args, seed, quiet_logins, **options):
        ctx = build_demo_city(seed=seed, log=lambda m: self.stdout.write(m))
        if not quiet_logins:
            self.stdout.write(self.style.SUCCESS("Demo logins (username / password / role):"))
            for username, password, role in ctx.logins:
                self.stdout.write(f"  {username:<12} {password:<14} {role}")
