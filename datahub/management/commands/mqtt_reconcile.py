from django.core.management.base import BaseCommand, CommandError

from datahub.iot.services.broker import BrokerError, broker_managed, broker_reconcile


class Command(BaseCommand):
    help = (
        "Make the MQTT broker's clients and roles (Mosquitto dynamic security) match the registered devices, "
        "the bridge's and the health check's credentials: create what is missing, correct what differs, "
        "delete the clients of devices that no longer exist. Safe to run any time (beat runs it every 5 minutes)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument(
            "--if-managed",
            action="store_true",
            help="do nothing (exit 0) when no administrator credentials are configured",
        )

    def handle(self, *args, **opts):
        if not broker_managed():
            if opts["if_managed"]:
                self.stdout.write("mqtt reconcile: no MQTT_ADMIN_USERNAME / MQTT_ADMIN_PASSWORD; nothing to do")
                return
            raise CommandError("MQTT_ADMIN_USERNAME / MQTT_ADMIN_PASSWORD are not set: the broker is not managed")
        try:
            report = broker_reconcile(host=opts["host"], port=opts["port"])
        except BrokerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"mqtt reconcile: {report.summary()}")
        for key, error in sorted(report.errors.items())[:50]:
            self.stderr.write(f"  {key}: {error}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} device(s) could not be brought to the broker (above)")
