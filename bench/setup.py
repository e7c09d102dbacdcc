"""Benchmarks run against their own database, created and migrated on first use."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("CITYOS_BENCH_DB", "cityos_bench")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"postgis://cityos@127.0.0.1:5432/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityos.settings.test")
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="cityos", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{BENCH_DB}"')
    conn.close()
    # The same group-commit settings as the main database gets from scripts/bootstrap.sh.
    conn = psycopg2.connect(host="127.0.0.1", user="cityos", dbname=BENCH_DB)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute((ROOT / "deploy" / "postgresql" / "group_commit.sql").read_text())
    conn.close()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    import django

    django.setup()
