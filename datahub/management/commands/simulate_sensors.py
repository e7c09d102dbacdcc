import json
import time

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datahub.iot.demo import INTERVAL_S, demo_device_credentials, sensor_reading


class Command(BaseCommand):
    help = "Publish the demo city's sensors over MQTT (daily/weekly cycles, noise, anomalies, outages)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--seed", type=int, default=20261124)
        parser.add_argument("--interval", type=int, default=INTERVAL_S, help="seconds between readings")
        parser.add_argument("--ticks", type=int, default=None, help="stop after N ticks (default: run forever)")
        parser.add_argument(
            "--backfill-hours", type=float, default=6, help="first publish this much history (10-min steps)"
        )

    def handle(self, *args, **opts):
        devices = demo_device_credentials()
        if not devices:
            raise CommandError("no demo devices: run `manage.py demo_city` first")
        host, port = opts["host"] or settings.MQTT_HOST, opts["port"] or settings.MQTT_PORT
        # Like real devices: one MQTT connection per device, logged in with its key and secret
        # (the broker lets each publish only to its own topic).
        clients: dict[str, mqtt.Client] = {}
        for key, _kind, secret in devices:
            client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"cityos-sim-{key}")
            client.username_pw_set(key, secret)
            client.max_inflight_messages_set(1000)
            client.reconnect_delay_set(1, 5)
            client.connect_async(host, port)
            client.loop_start()
            clients[key] = client
        devices = [(key, kind) for key, kind, _secret in devices]
        seed, interval = opts["seed"], opts["interval"]
        now = time.time()
        sent = 0
        if opts["backfill_hours"] > 0:
            start = int((now - opts["backfill_hours"] * 3600) // 600 * 600)
            for key, kind in devices:
                items = []
                for t in range(start, int(now), 600):
                    values = sensor_reading(seed=seed, key=key, kind=kind, t=t)
                    if values:
                        items.append({"ts": t, **values})
                if items:
                    clients[key].publish(f"cityos/{key}/telemetry", json.dumps(items), qos=1)
                    sent += 1
        self.stdout.write(f"simulator: {len(devices)} devices, every {interval} s (backfill messages: {sent})")
        tick = 0
        try:
            while opts["ticks"] is None or tick < opts["ticks"]:
                t = int(time.time() // interval * interval)
                infos = []
                for key, kind in devices:
                    values = sensor_reading(seed=seed, key=key, kind=kind, t=t)
                    if values:  # None = the device is in an outage: it sends nothing
                        infos.append(
                            clients[key].publish(f"cityos/{key}/telemetry", json.dumps({"ts": t, **values}), qos=1)
                        )
                for info in infos:
                    info.wait_for_publish(30)
                tick += 1
                if opts["ticks"] is not None and tick >= opts["ticks"]:
                    break
                time.sleep(max(0.0, t + interval - time.time()))
        except KeyboardInterrupt:
            pass
        finally:
            for client in clients.values():
                client.disconnect()
                client.loop_stop()
