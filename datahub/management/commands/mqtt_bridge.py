import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datahub.iot.services.mqtt import CLIENT_ID, SHARE_GROUP, TOPIC, MqttBridge, MqttBridgePool


class Command(BaseCommand):
    help = (
        "Run the MQTT -> observations bridge (QoS 1, persistent session, ack after commit); "
        "with --workers N, a supervised pool of N bridges on a shared subscription."
    )
    # A pool member restarted after a crash should be back in a second: the system checks import
    # every URL module (and with them scikit-learn and jieba), ~4 s here.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument(
            "--client-id",
            default=CLIENT_ID,
            help="fixed: it names the persistent session (pool members are <client-id>-0 … -N-1)",
        )
        parser.add_argument("--topic", default=TOPIC)
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--flush-ms", type=int, default=200)
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="run a pool of N bridge processes on the shared subscription $share/<group>/<topic>, "
            "restarting any that dies (default: one process on a plain subscription)",
        )
        parser.add_argument("--group", default=SHARE_GROUP, help="shared subscription group of the pool")
        parser.add_argument(
            "--parent-pid", type=int, default=None, help="(pool members) stop when this process is gone"
        )

    def handle(self, *args, **opts):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        host, port = opts["host"] or settings.MQTT_HOST, opts["port"] or settings.MQTT_PORT
        if opts["workers"] is not None:
            if opts["workers"] < 1:
                raise CommandError("--workers must be at least 1")
            pool = MqttBridgePool(
                workers=opts["workers"],
                host=host,
                port=port,
                client_id=opts["client_id"],
                group=opts["group"],
                topic=opts["topic"],
                batch_size=opts["batch_size"],
                flush_ms=opts["flush_ms"],
            )
            self.stdout.write(
                f"mqtt bridge pool: {opts['workers']} members on {host}:{port} {pool.shared} "
                f"as {pool.members[0]} … {pool.members[-1]}",
            )
            self.stdout.flush()
            restarts = pool.run()
            self.stdout.write(f"mqtt bridge pool stopped ({restarts} member restarts)")
            return
        bridge = MqttBridge(
            host=host,
            port=port,
            client_id=opts["client_id"],
            topic=opts["topic"],
            batch_size=opts["batch_size"],
            flush_interval_s=opts["flush_ms"] / 1000,
        )
        self.stdout.write(f"mqtt bridge: {bridge.host}:{bridge.port} {bridge.topic} as {opts['client_id']}")
        stats = bridge.run(parent_pid=opts["parent_pid"])
        self.stdout.write(
            f"mqtt bridge {opts['client_id']} stopped: {stats.messages} messages, {stats.stored} stored, "
            f"{stats.duplicates} duplicates, {stats.rejected} rejected"
        )
