"""Benchmark 3, memory: peak RSS of one process playing a whole day at full speed.

    python bench/memory.py VISITS [BOOTSTRAP]

Without BOOTSTRAP the runner's records go to a publisher that only counts them (the
engine alone: plan, event stream, runner); with it, to the real publisher (kafka-python,
transactions on: the defaults).
Prints the RSS after imports and the peak RSS (VmHWM) at the end.
"""

from __future__ import annotations

import os
import sys
import time

from common import DAY, SEED, counting_delivery, emit, peak_rss_mb, rss_mb

def main() -> None:
    visits = int(sys.argv[1])
    bootstrap = sys.argv[2] if len(sys.argv) > 2 else None
    from foot_traffic.delivery.options import KafkaOptions
    import threading

    from foot_traffic.delivery import delivery_for
    from foot_traffic.delivery.ledger import describe_run
    from foot_traffic.run.runner import Runner
    from foot_traffic.settings import Settings

    env = dict(os.environ, SEED=str(SEED), DAILY_CUSTOMERS=str(visits), FOOT_TRAFFIC_RESUME="0")
    if bootstrap:
        env["KAFKA_BROKER"] = bootstrap
    settings = Settings.from_env(env)
    import kafka  # noqa: F401  (both variants pay for the client import)

    if bootstrap:
        delivery = delivery_for(settings, KafkaOptions.from_settings(settings), threading.Event(),
                                describe_run("bench memory"))
    else:  # the engine alone: a producer that only counts, keeping no record
        delivery = counting_delivery()[0]
    base = rss_mb()
    started = time.perf_counter()
    summaries = Runner(settings, delivery).run([DAY])
    elapsed = time.perf_counter() - started
    emit(
        {
            "visits": visits,
            "kafka": bool(bootstrap),
            "records": summaries[0].sent,
            "seconds": elapsed,
            "rss_after_imports_mb": base,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


if __name__ == "__main__":
    main()
