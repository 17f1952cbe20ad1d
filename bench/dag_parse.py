"""Benchmark 5, DAG parse: dags/foot_traffic_daily.py in a DagBag, in one process.

    python bench/dag_parse.py [REPEATS]

First the modules a DagBag needs anyway are imported (airflow, the SDK); then one cold
parse (the DAG's own top-level imports load: listed), then REPEATS warm parses, as the
dag processor does again and again: the target is on the median of those.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from common import ROOT, emit

DAG_FILE = ROOT / "dags" / "foot_traffic_daily.py"
# Modules a DAG file should not load at parse time (the dag processor parses it again and again).
HEAVY = ("kafka", "confluent_kafka", "pydantic", "yaml", "foot_traffic.runner", "foot_traffic.publisher")


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-home-"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAG_FILE.parent)
    import airflow.sdk  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag

    before = set(sys.modules)
    t0 = time.perf_counter()
    bag = DagBag(dag_folder=str(DAG_FILE))
    cold = time.perf_counter() - t0
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    new = sorted(m for m in set(sys.modules) - before if not m.startswith("unusual_prefix_"))
    top = {}
    for name in new:
        root = name.split(".")[0]
        top[root] = top.get(root, 0) + 1
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        bag = DagBag(dag_folder=str(DAG_FILE))
        warm.append(time.perf_counter() - t0)
        assert "foot_traffic_daily" in bag.dags
    with open(DAG_FILE, encoding="utf-8") as fh:
        imports = [
            line.strip()
            for line in fh
            if line.startswith(("import ", "from ")) and "__future__" not in line
        ]
    emit(
        {
            "dags": sorted(bag.dags),
            "cold_ms": 1e3 * cold,
            "warm_ms": [1e3 * w for w in warm],
            "warm_median_ms": 1e3 * statistics.median(warm),
            "dag_imports": imports,
            "new_modules": len(new),
            "new_modules_by_package": dict(sorted(top.items(), key=lambda kv: -kv[1])),
            "new_modules_list": new if len(new) <= 60 else new[:60] + ["..."],
            "heavy_by_dag": [m for m in HEAVY if m in new],
            "heavy_before": [m for m in HEAVY if m in before],
            "heavy_not_loaded": [m for m in HEAVY if m not in sys.modules],
        }
    )


if __name__ == "__main__":
    main()
