"""`./run bench`: run every benchmark, print the figures and write them to bench/results/*.json.

Each module in bench/ with a `run() -> dict` function is a benchmark; `./run bench NAME…` runs
only those. Benchmarks use a database of their own (cityos_bench) so they never touch the demo.
"""

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    from bench.setup import setup_django

    setup_django()
    names = [f"bench_{n}" if not n.startswith("bench_") else n for n in argv] or discover()
    RESULTS.mkdir(exist_ok=True)
    summary = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures = module.run()
        figures["wall_seconds"] = round(time.perf_counter() - started, 2)
        for key, value in figures.items():
            print(f"   {key}: {value}")
        (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
        summary[name] = figures
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"figures written to {RESULTS}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
