import logging

from django.conf import settings
from django.core.management.base import BaseCommand

from datahub.services.iot_mqtt import TOPIC, MqttBridge


class Command(BaseCommand):
    help = "Run the MQTT -> observations bridge (QoS 1, persistent session, ack after commit)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--client-id", default="cityos-mqtt-bridge", help="fixed: it names the persistent session")
        parser.add_argument("--topic", default=TOPIC)
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--flush-ms", type=int, default=200)

    def handle(self, *args, **opts):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        bridge = MqttBridge(
            host=opts["host"] or settings.MQTT_HOST,
            port=opts["port"] or settings.MQTT_PORT,
            client_id=opts["client_id"],
            topic=opts["topic"],
            batch_size=opts["batch_size"],
            flush_interval_s=opts["flush_ms"] / 1000,
        )
        self.stdout.write(f"mqtt bridge: {bridge.host}:{bridge.port} {bridge.topic} as {opts['client_id']}")
        stats = bridge.run()
        self.stdout.write(
            f"mqtt bridge stopped: {stats.messages} messages, {stats.stored} stored, "
            f"{stats.duplicates} duplicates, {stats.rejected} rejected"
        )
