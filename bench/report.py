"""BENCHMARKS.md from one run's results (``run_all.py``'s ``results.json``): one function per section.

Every label says what was measured and against what, so that the report reads without
the issue that asked for it. Figures come from the results only; the causes given for a
missed target are stated where the results show it missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from common import ROOT, SEED, WORK, median

SEED_TEXT = str(SEED)

# Delivery cases: label in the tables, short name in ratios.
CASES = {
    "cli": ("ours: `foot-traffic produce --date` (kafka-python, the default client; transactions, the default)", "ours"),
    "cli_plain": ("ours, `KAFKA_TRANSACTIONS=0` (one idempotent producer, no transactions)", "ours without transactions"),
    "dag": ("ours through Airflow: `airflow dags test` (task duration: the task instance's start to its success)", "ours via Airflow"),
    "dag_running": (
        "the same runs, from the task's own start (the Execution API's \"Task started\") to its success",
        "ours via Airflow (task running)",
    ),
    "cli_confluent": ("ours: `foot-traffic produce --date` with `KAFKA_CLIENT=confluent` (librdkafka)", "ours (librdkafka)"),
    "cli_confluent_plain": (
        "ours with `KAFKA_CLIENT=confluent KAFKA_TRANSACTIONS=0`", "ours (librdkafka) without transactions",
    ),
    "kafka_python": ("raw kafka-python loop: pre-built records, our producer settings", "raw kafka-python"),
    "kafka_python_busy": (
        "control: the raw kafka-python loop plus {busy:.1f} µs of busy Python work per record "
        "(the engine's CPU per record, section 3)",
        "raw kafka-python + busy work",
    ),
    "confluent": ("raw confluent-kafka loop: pre-built records, our librdkafka settings", "raw confluent-kafka"),
    "operator_async": ("Airflow's `ProduceToTopicOperator` with `synchronous=False`", "operator (async)"),
    "operator": ("Airflow's `ProduceToTopicOperator` at its defaults (synchronous)", "operator (defaults)"),
}

# Targets: (what is measured, comparison, target value).
OURS_VS_RAW_KAFKA_PYTHON = 0.9
OURS_VS_OPERATOR = 3.0
OURS_LIBRDKAFKA_VS_RAW = 0.9
AIRFLOW_VS_CLI = 0.85
ENGINE_US_PER_RECORD = 2.5
PACING_P99_MS = 5.0
PACING_CPU_PCT = 2.0
MEMORY_GROWTH_MB = 50.0
PLAN_SECONDS = 2.0
PARSE_MS = 50.0
CHAIN_VS_ONE_STORE = 0.9
CHAIN_LIVE_CPU_PCT = 5.0
CHAIN_LIVE_RSS_MB = 200.0
# Issue 24 (scale out): the chain DAG under `airflow dags test` in shards of 10 against the
# one-process CLI; a Celery shard against the CLI once started; two workers against one.
DAGS_TEST_VS_CLI = 0.6
CELERY_SHARD_VS_CLI = 0.7
TWO_WORKERS_VS_ONE = 1.7
BACKFILL_DAYS_TARGET = 365


def rate_text(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


@dataclass
class Delivery:
    """The delivery runs of every case, round by round."""

    cases: list[str]
    runs: dict[str, list[dict]]

    def rate(self, case: str) -> float | None:
        return median([r["records_per_s"] for r in self.runs.get(case, [])])

    def ratios(self, a: str, b: str) -> list[float]:
        """a / b within each round (both measured minutes apart on the same machine state)."""
        return [x["records_per_s"] / y["records_per_s"] for x, y in zip(self.runs.get(a, []), self.runs.get(b, []))]

    def ratio(self, a: str, b: str) -> float | None:
        return median(self.ratios(a, b))


@dataclass
class Check:
    target: str
    figure: str
    met: bool


def memory_growth_mb(res: dict) -> float:
    engine = res["memory"]["engine"]
    return engine[1_000_000]["peak_rss_mb"] - engine[10_000]["peak_rss_mb"]


# Delivery targets: ours / a baseline, both sending the same day, at least this much.
RATIO_TARGETS = (
    ("cli", "kafka_python", OURS_VS_RAW_KAFKA_PYTHON, "ours (kafka-python) ≥ {} × a raw kafka-python loop sending the same records"),
    ("cli", "operator", OURS_VS_OPERATOR, "ours (kafka-python) ≥ {} × Airflow's `ProduceToTopicOperator` at its defaults"),
    ("cli_confluent", "confluent", OURS_LIBRDKAFKA_VS_RAW, "ours (librdkafka) ≥ {} × a raw confluent-kafka loop sending the same records"),
    ("cli_confluent", "operator", OURS_VS_OPERATOR, "ours (librdkafka) ≥ {} × Airflow's `ProduceToTopicOperator` at its defaults"),
    ("dag_running", "cli", AIRFLOW_VS_CLI,
     "ours through `airflow dags test` (from the task's start to its success) ≥ {} × `foot-traffic produce`"),
)


def checks(res: dict) -> list[Check]:
    """Every target: what is measured against what, the figure, met or not."""
    if "delivery" not in res:  # ``run_all.py --chain-only`` without an earlier run
        return chain_checks(res)
    d = Delivery(**res["delivery"])
    out = []
    for ours, baseline, target, text in RATIO_TARGETS:
        ratio = d.ratio(ours, baseline)
        out.append(Check(text.format(f"{target:g}"), f"{ratio:.2f} ×", ratio >= target))
    engine_us = res["engine_us_per_record"]
    out.append(Check(
        f"the engine's CPU per record at full speed (plan, records, runner; no Kafka) ≤ {ENGINE_US_PER_RECORD:g} µs",
        f"{engine_us:.2f} µs", engine_us <= ENGINE_US_PER_RECORD,
    ))
    p = res["pacing"]["ours"]
    out.append(Check(
        f"live pacing (TIME_SCALE=1): p99 of a send's lateness after its due time ≤ {PACING_P99_MS:g} ms",
        f"{p['p99_ms']:.2f} ms", p["p99_ms"] <= PACING_P99_MS,
    ))
    out.append(Check(
        f"live pacing: CPU ≤ {PACING_CPU_PCT:g} % of one core", f"{p['cpu_share_pct']:.2f} %",
        p["cpu_share_pct"] <= PACING_CPU_PCT,
    ))
    growth = memory_growth_mb(res)
    out.append(Check(
        f"engine's peak RSS grows ≤ {MEMORY_GROWTH_MB:g} MB from a 10,000- to a 1,000,000-visit day",
        f"{growth:+.1f} MB", growth <= MEMORY_GROWTH_MB,
    ))
    plan_wall = median(res["planning"]["wall_s"])
    out.append(Check(
        f"planning a 1,000,000-visit day ≤ {PLAN_SECONDS:g} s", f"{plan_wall:.2f} s", plan_wall <= PLAN_SECONDS,
    ))
    parse = res["dag_parse"]["warm_median_ms"]
    out.append(Check(
        f"parsing the DAG file in a `DagBag` (median of repeated parses) ≤ {PARSE_MS:g} ms",
        f"{parse:.1f} ms", parse <= PARSE_MS,
    ))
    return out + chain_checks(res)


def chain_checks(res: dict) -> list[Check]:
    ch = res.get("chain")
    if not ch:
        return []
    out = []
    if "cli" in ch:
        ratio = ch["cli"]["records_per_s"] / ch["baseline"]["records_per_s"]
        out.append(Check(
            f"a {ch['stores']:,}-store chain's day at full speed in one process ≥ {CHAIN_VS_ONE_STORE:g} × the "
            "one-store CLI's rate for the same number of records",
            f"{ratio:.2f} ×", ratio >= CHAIN_VS_ONE_STORE,
        ))
    dt = ch.get("dagstest")
    if dt:
        out.append(Check(
            f"{dt['stores']} stores in shards of {dt['shard_size']} under `airflow dags test` ≥ {DAGS_TEST_VS_CLI:g} × "
            "`foot-traffic produce --stores` in one process, the same records (issue 24's Done-when)",
            f"{dt['ratio']:.2f} ×" + ("" if all(r["same_records"] for r in dt["rounds"]) else " (records differ)"),
            dt["ratio"] >= DAGS_TEST_VS_CLI and all(r["same_records"] for r in dt["rounds"]),
        ))
    d1, d2 = ch.get("dag_celery_1"), ch.get("dag_celery_2")
    if "cli" in ch and (d1 or d2):
        for d in (x for x in (d1, d2) if x):
            spans = d.get("operator_seconds") or []
            seconds, what = ((sum(spans), "once started (task logs)") if len(spans) == d["shards"]
                             else (d["shard_seconds_sum"], "task durations"))
            ratio = d["records"] / seconds / ch["cli"]["records_per_s"]
            out.append(Check(
                f"a chain shard on CeleryExecutor ({d['workers']} worker(s)): its records / its time {what} "
                f"≥ {CELERY_SHARD_VS_CLI:g} × the one-process CLI", f"{ratio:.2f} ×", ratio >= CELERY_SHARD_VS_CLI,
            ))
    if d1 and d2:
        ratio = d2["records_per_s"] / d1["records_per_s"]
        out.append(Check(
            f"the chain DAG on CeleryExecutor: 2 workers ≥ {TWO_WORKERS_VS_ONE:g} × 1 worker (trigger to success)",
            f"{ratio:.2f} ×", ratio >= TWO_WORKERS_VS_ONE,
        ))
    bf = ch.get("backfill")
    if bf and bf.get("operator_spans") and "cli" in ch:
        ratio = bf["records"] / bf["operator_seconds_sum"] / ch["cli"]["records_per_s"]
        out.append(Check(
            f"a backfill shard on CeleryExecutor (2 workers, {bf['operator_spans']} shards of {bf['shard_size']} stores), "
            f"its records / its time once started (task logs), ≥ {CELERY_SHARD_VS_CLI:g} × the one-process CLI",
            f"{ratio:.2f} ×", ratio >= CELERY_SHARD_VS_CLI,
        ))
    if bf:
        out.append(Check(
            f"`airflow backfill create` of a {bf['stores']}-store chain on CeleryExecutor, 2 workers: "
            f"{BACKFILL_DAYS_TARGET} days, per-day figures flat",
            f"{bf['days_done']} days in {bf['wall_s'] / 60:.0f} min (budget); last/first days' records/s "
            f"{_backfill_trend(bf)['rate']:.2f} ×",
            bf["days_done"] >= BACKFILL_DAYS_TARGET,
        ))
    live = ch.get("live")
    if live:
        m = live["many"]
        out.append(Check(
            f"{m['stores']:,} live stores (TIME_SCALE=1) in one process: CPU ≤ {CHAIN_LIVE_CPU_PCT:g} % of one core",
            f"{m['cpu_pct']:.2f} %", m["cpu_pct"] <= CHAIN_LIVE_CPU_PCT,
        ))
        out.append(Check(
            f"{m['stores']:,} live stores in one process: peak RSS ≤ {CHAIN_LIVE_RSS_MB:g} MB",
            f"{m['rss_peak_mb']:.0f} MB", m["rss_peak_mb"] <= CHAIN_LIVE_RSS_MB,
        ))
    return out


# -- sections ----------------------------------------------------------------------------
def header(res: dict) -> list[str]:
    return [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/run_all.py`) on {res['finished']}; total run time "
        f"{res['total_seconds'] / 60:.1f} min. Every figure below is the one that run printed.",
    ]


def machine(res: dict) -> list[str]:
    m, v = res["machine"], res["versions"]
    return [
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory']}; {m['os']}; Python {m['python']}",
        f"- Load average when the run started: {m['load']} (shared machine: other test suites were running; "
        "figures are medians, ratios are taken within a round)",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Broker: the embedded noida-db broker, a fresh one (fresh data directory) per case; "
        f"topics created with {res['setup']['partitions']} partitions, replication 1, retention.ms=-1",
    ]


def machine_only(res: dict) -> list[str]:
    m, v = res["machine"], res["versions"]
    return [
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory']}; {m['os']}; Python {m['python']}",
        f"- Load average when the run started: {m['load']} (shared machine)",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
    ]


def summary(found: list[Check]) -> list[str]:
    lines = [
        "## Summary",
        "",
        "Each row: what was measured, against what, and the target the project set for it.",
        "",
        "| Target | Figure | Result |",
        "|---|---|---|",
    ]
    lines += [f"| {c.target} | {c.figure} | {'met' if c.met else '**missed**'} |" for c in found]
    return lines


def delivery(res: dict) -> list[str]:
    d = Delivery(**res["delivery"])
    n = {c: len(d.runs[c]) for c in d.cases}
    day, seed, visits = date.fromisoformat(res["setup"]["day"]), res["setup"]["seed"], res["setup"]["visits"]
    lines = [
        f"## 1. Full-speed delivery of a past day ({visits:,} visits = {3 * visits:,} records, every record acknowledged)",
        "",
        f"Day {day} (a {day:%A}), SEED={seed}, DAILY_CUSTOMERS={visits}; records/s = records / seconds from the "
        "producer's start (connect) to its last acknowledgement; medians over "
        f"rounds (n per row: {max(n.values())} at most). Every case's records were counted on the broker afterwards "
        "(sum of end offsets; for ours with transactions by reading them `read_committed`, as commit markers "
        "take offsets too).",
        "",
        "| Case | records/s (median) | runs (records/s) | n | × raw kafka-python loop | peak RSS MB |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for c in d.cases:
        rs = d.runs[c]
        rss = median([r.get("peak_rss_mb") for r in rs])
        label = CASES[c][0].format(busy=res["engine_us_per_record"])
        lines.append(
            f"| {label} | {rate_text(d.rate(c))} | {', '.join(rate_text(r['records_per_s']) for r in rs)} | {n[c]} | "
            f"{d.ratio(c, 'kafka_python'):.2f} | {'-' if rss is None else f'{rss:.0f}'} |"
        )
    e2e = median([3 * visits / r["process_wall_s"] for r in d.runs["dag"]])
    wall = median([r["process_wall_s"] for r in d.runs["dag"]])
    lines += [
        "",
        f"`airflow dags test` end to end (process start to exit, DAG parse and run bookkeeping included): "
        f"{wall:.1f} s = {rate_text(e2e)} records/s.",
    ]
    pairs = [
        ("cli", "kafka_python"), ("cli", "operator"), ("cli", "operator_async"), ("cli", "confluent"),
        ("kafka_python", "confluent"), ("dag", "kafka_python"), ("cli_confluent", "confluent"),
    ]
    lines += [
        "",
        "Ratios within each round (median): "
        + "; ".join(f"{CASES[a][1]} / {CASES[b][1]} {d.ratio(a, b):.2f}" for a, b in pairs)
        + ".",
        "",
        "How the cases differ: the raw loops send the records the engine produced for the same day, "
        "pre-serialized (key, value, the four headers, the event timestamp): the raw kafka-python loop "
        "through a KafkaProducer built by `KafkaPublisher.connect()` (acks=all, idempotence, linger 20 ms, "
        "256 KiB batches, compression), the raw confluent-kafka loop through a librdkafka Producer with the "
        "settings of `publisher_confluent.producer_settings` (the same, plus partitioner murmur2_random and "
        "delivery reports for failures only). The operator is the Kafka provider's, as a user would write it: "
        "one operator per topic, key and value only (it cannot send headers or timestamps), run in-process "
        "with `operator.execute()` and its per-record log line going to a file (its fastest setting: under "
        "`airflow dags test` its log lines go through the task logger and it is slower). At its defaults "
        "each round sends one consecutive part of the day, the rounds together the whole day.",
    ]
    return lines


def pacing(res: dict) -> list[str]:
    pac = res["pacing"]
    lines = [
        "## 2. Pacing accuracy at TIME_SCALE=1",
        "",
        f"A dense day (bench profile: 1,200 visits entering in the first 3 minutes) played from its midnight "
        f"with the simulated clock at wall speed for {res['pacing_seconds']:.0f} s; ours and the baseline ran at "
        "the same time on the same broker, each in its own process. Lateness = send time − due time on one "
        "monotonic clock, from the moment the schedule starts (ours: after connecting and making the topics). "
        "CPU = the process's CPU time (all threads) / wall time, from its first send to its end. Percentiles "
        "over the steady state; the startup burst (records already due when the first send happened) is "
        "shown apart.",
        "",
        "| Loop | records/s | p50 ms | p99 ms | max ms | p99 per third (ms) | startup burst | CPU % of one core |",
        "|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for mode, label in (
        ("ours", "ours: Runner + Pacer (waits for an event until due)"),
        ("polling", "baseline, the original's loop: poll, then sleep SLEEP=0.5"),
    ):
        q = pac[mode]
        thirds = ", ".join(f"{w['p99_ms']:.1f}" for w in q["windows"] if w)
        lines.append(
            f"| {label} | {q['records_per_s']:.1f} | {q['p50_ms']:.2f} | {q['p99_ms']:.2f} | {q['max_ms']:.2f} | "
            f"{thirds} | {q['startup_sends']} sends, ≤ {q['startup_max_ms']:.0f} ms (first send at {q['first_send_s']:.2f} s) | "
            f"{q['cpu_share_pct']:.2f} |"
        )
    lines += [
        "",
        "The baseline's lateness is its phase against the whole-second due times (here a quarter second, "
        "plus the drift of its sleeps); over phases it is uniform in [0, 500) ms.",
    ]
    ours = pac["ours"]
    lines += [
        "",
        f"Ours connected and made its topics in {ours['connect_s']:.2f} s before its schedule started; the "
        "first send to each topic took "
        + ", ".join(f"{ms:.0f} ms ({topic})" for topic, ms in ours["first_send_ms"].items())
        + ".",
    ]
    return lines


def memory(res: dict) -> list[str]:
    engine = res["memory"]["engine"]
    lines = [
        "## 3. Memory (peak RSS of one process playing a whole day at full speed)",
        "",
        "| Visits | Records | engine only: peak RSS MB | after imports MB | seconds |",
        "|---:|---:|---:|---:|---:|",
    ]
    for visits, r in engine.items():
        lines.append(f"| {visits:,} | {r['records']:,} | {r['peak_rss_mb']:.1f} | {r['rss_after_imports_mb']:.1f} | {r['seconds']:.1f} |")
    k10 = res["memory"]["kafka"][10_000]
    cli_rss = median([r.get("peak_rss_mb") for r in res["delivery"]["runs"]["cli"]])
    lines += [
        "",
        f"Engine only = plan + event stream + runner, records handed to a publisher that counts them. "
        f"Growth 10,000 → 1,000,000 visits: {memory_growth_mb(res):+.1f} MB (the heap of customers in the store "
        "and a bounded time-string cache; nothing holds the day). With the real kafka-python publisher: "
        f"{k10['peak_rss_mb']:.1f} MB at 10,000 visits, {cli_rss:.1f} MB at {res['setup']['visits']:,} (the delivery runs "
        "above); the difference is the client's send buffer (buffer_memory, 32 MiB by default), which is "
        "bounded. 1,000,000 visits (3 M records) are not sent to the embedded broker: it keeps all data in "
        "one JSON snapshot and would need GBs.",
    ]
    engine_cpu = res.get("engine")
    if engine_cpu:  # results of runs before bench/engine.py lack it
        lines += [
            "",
            f"The engine's CPU per record (`bench/engine.py`: the {engine_cpu['visits']:,}-visit day played at full "
            "speed into the counting publisher, the thread's CPU time / records, so a busy machine stretches the "
            f"wall time but not this figure): {', '.join(f'{x:.2f}' for x in engine_cpu['cpu_us_per_record'])} µs "
            f"(median {engine_cpu['cpu_us_per_record_median']:.2f} µs; wall "
            f"{', '.join(f'{x:.2f}' for x in engine_cpu['wall_us_per_record'])} µs).",
        ]
    return lines


def planning(res: dict) -> list[str]:
    plan = res["planning"]
    return [
        "## 4. Planning",
        "",
        "Plan a 1,000,000-visit day and generate every visit (`StoreDayPlan.visits()`), no Kafka, one process: "
        f"wall {', '.join(f'{x:.2f}' for x in plan['wall_s'])} s (median {median(plan['wall_s']):.2f} s); "
        f"CPU {', '.join(f'{x:.2f}' for x in plan['cpu_s'])} s (median {median(plan['cpu_s']):.2f} s).",
    ]


def resume_scan(res: dict) -> list[str]:
    scan = res.get("resume_scan")
    if not scan or "ledger_days" not in scan:  # an older run's scan case (segments): not comparable
        return []

    def walls(values: list[float]) -> str:
        return ", ".join(f"{1e3 * x:.1f}" for x in values)

    lines = [
        f"## 4b. Resuming a store-day: the day ledger with {scan['ledger_days']} days in it",
        "",
        f"A chain of {scan['stores']} stores × {scan['visits_per_store']:,} visits, {scan['real_days']} days produced "
        f"(`foot-traffic produce --stores --days`, librdkafka, transactions): {scan['records_in_topics']:,} records in "
        f"the data topics; its writers topic filled up to {scan['ledger_days']} days of the same stores' ledger "
        f"records ({scan['ledger_records_in_topic']:,} records in {scan['ledger_partitions']} partitions, "
        f"{scan['ledger_records_per_store_day']:.1f} per store-day as the real days hold). For one shard's "
        f"{scan['shard']} store-days of a day: what a take reads (`KafkaLedgerIO.read`: the day's partition) "
        "against the resume scan of the same store-days (`KafkaDayScanner.scan`: the data topics from the day's "
        "first local midnight; only store-days whose ledger records predate positions are still resumed so):",
        "",
        "| Day | Records of the shard's day | Ledger: records read | Ledger: wall ms | Scan: records read "
        "| Scan: wall ms | Positions = records found |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (("old_day", "the first (an old day re-run)"), ("last_day", "the last")):
        case = scan[name]
        lines.append(
            f"| {label}, {case['day']} | {case['day_records']:,} | {case['ledger_records_read']:,} | "
            f"{walls(case['ledger']['wall_s'])} | {case['scan_records_read']:,} | {walls(case['scan']['wall_s'])} | "
            f"{'yes' if case.get('same') else 'NO'} ({case['finished']} of {scan['shard']} finished) |"
        )
    lines += [
        "",
        f"Target (issue 24, items 1 and 2): a take reads only its day's ledger partition, whatever the days "
        f"already in the topic: the records read are the day's ({scan['stores']} store-days × its records), not the "
        f"topic's {scan['ledger_records_in_topic']:,}, and the first day costs what the last does. The whole CLI "
        f"run of the last day again (every store-day finished, nothing to send; process start included): "
        f"{scan['rerun_last_day_s']:.2f} s. Both reads measured in the same run, alternating; the scan of an old day "
        "reads every later day too (the reason positions replaced it).",
    ]
    return lines


def dag_parse(res: dict) -> list[str]:
    dp = res["dag_parse"]

    def names(modules):
        return ", ".join(f"`{m}`" for m in modules) or "none"

    return [
        "## 5. DAG parse",
        "",
        f"`dags/foot_traffic_daily.py` in a `DagBag`, in-process after importing airflow.sdk: median of "
        f"{len(dp['warm_ms'])} parses {dp['warm_median_ms']:.1f} ms (min {min(dp['warm_ms']):.1f}, max "
        f"{max(dp['warm_ms']):.1f}); the first (cold) parse, which imports the DAG's modules, {dp['cold_ms']:.1f} ms.",
        "",
        "Top-level imports of the DAG file: " + "; ".join(f"`{i}`" for i in dp["dag_imports"]) + ".",
        f"Modules they load beyond airflow.sdk: {dp['new_modules']} "
        f"({', '.join(f'{k} {c}' for k, c in dp['new_modules_by_package'].items())}): "
        + ", ".join(f"`{x}`" for x in dp["new_modules_list"])
        + ".",
        f"Heavy modules: loaded by the DAG file {names(dp['heavy_by_dag'])}; already loaded by airflow.sdk "
        f"{names(dp['heavy_before'])}; not loaded at all {names(dp['heavy_not_loaded'])}.",
    ]


def _gap_vs_raw_kafka_python(res: dict, d: Delivery) -> str | None:
    ratio = d.ratio("cli", "kafka_python")
    if ratio >= OURS_VS_RAW_KAFKA_PYTHON:
        return None
    engine_us = res["engine_us_per_record"]
    busy = d.ratio("kafka_python_busy", "kafka_python")
    share = (1 - busy) / (1 - ratio) if ratio < 1 else 1.0
    plain = d.ratio("cli_plain", "kafka_python")
    return (
        f"- **ours (kafka-python) = {ratio:.2f} × the raw kafka-python loop, target {OURS_VS_RAW_KAFKA_PYTHON}.** "
        "The raw loop sends records that already exist; ours also makes them: "
        f"{engine_us:.2f} µs of CPU per record in the engine alone (section 3). kafka-python's sender thread "
        "is Python too and needs the GIL, so that work is not overlapped with sending: the control row, the "
        f"raw loop doing {engine_us:.1f} µs of busy Python work per record, runs at {busy:.2f} × the raw loop, "
        f"so the engine's CPU explains about {100 * min(share, 1):.0f} % of the gap. Without transactions "
        f"(`KAFKA_TRANSACTIONS=0`, the raw loop's own settings) ours runs at {plain:.2f} × the raw loop: "
        "the rest of the gap is the transactional producer's own work per send inside kafka-python (it "
        "checks the transaction's state and adds each partition to it on every `send`) and its commits "
        "(section 6), plus the publisher's per-record callbacks on the sender thread. With librdkafka the "
        "I/O and batching run in C threads without the GIL: with `KAFKA_CLIENT=confluent` ours runs at "
        f"{d.ratio('cli_confluent', 'kafka_python'):.1f} × the raw kafka-python loop."
    )


def _gap_vs_operator(d: Delivery) -> str | None:
    ratio = d.ratio("cli", "operator")
    if ratio >= OURS_VS_OPERATOR:
        return None
    operator = d.rate("operator")
    return (
        f"- **ours (kafka-python) = {ratio:.1f} × `ProduceToTopicOperator` at its defaults, target "
        f"{OURS_VS_OPERATOR:g} ×.** The operator reaches {rate_text(operator)} records/s in-process; the raw "
        f"kafka-python loop is only {d.rate('kafka_python') / operator:.1f} × that, so a kafka-python producer "
        f"reaches {OURS_VS_OPERATOR:g} × only if it sends as fast as the raw loop; with `KAFKA_CLIENT=confluent` "
        f"ours is {d.ratio('cli_confluent', 'operator'):.1f} × the operator. Under `airflow dags test` the "
        "operator's per-record log lines go through the task logger and it is slower, so the in-process "
        "figure is its best case."
    )


def _gap_librdkafka_vs_raw(res: dict, d: Delivery) -> str | None:
    rounds = d.ratios("cli_confluent", "confluent")
    if median(rounds) >= OURS_LIBRDKAFKA_VS_RAW:
        return None
    return (
        f"- **ours (librdkafka) = {median(rounds):.2f} × the raw confluent-kafka loop, target "
        f"{OURS_LIBRDKAFKA_VS_RAW}** (rounds: {', '.join(f'{x:.2f}' for x in rounds)}). With the I/O off "
        f"the GIL the Python thread is the bottleneck of both: the raw loop spends "
        f"{1e6 / d.rate('confluent'):.1f} µs per record producing pre-built records, ours adds the engine's "
        f"{res['engine_us_per_record']:.1f} µs of making them; the same per-record work as above is the gap."
    )


def _note_airflow(d: Delivery) -> str:
    runs = d.runs.get("dag", [])
    startup = median([r["startup_seconds"] for r in runs if "startup_seconds" in r])
    if startup is None:  # results of runs before the task's own start was timed
        return (
            f"- Ours through `airflow dags test` (task duration): {rate_text(d.rate('dag'))} records/s, "
            f"{d.ratio('dag', 'cli'):.2f} × `foot-traffic produce`."
        )
    running = d.ratio("dag_running", "cli")
    text = (
        f"- Ours through `airflow dags test`: {d.ratio('dag', 'cli'):.2f} × `foot-traffic produce` in task "
        f"duration, {running:.2f} × from the task's own start (target {AIRFLOW_VS_CLI}). Where the time goes: "
        f"the task instance's start_date is set {startup:.1f} s (median) before its task runner starts, while "
        "`airflow dags test` starts its in-process Execution API server (FastAPI, imported then: a cost of "
        "the test command, which a task under a running Airflow does not pay). In the task itself, the log "
        "lines, the progress lines and the supervisor's comms thread cost next to nothing (measured per "
        "thread with a sampling profiler, issue 13: the Execution API's loop and the comms thread used < 0.1 s "
        "of CPU while a 30,000-visit day played); the measured cost was the garbage collector: the task process holds ~690,000 objects of Airflow's "
        "(the CLI ~50,000) and each full collection walked them all (0.5 s apiece), which the operator now "
        "avoids by freezing them while the day plays (`task_context.frozen_heap`)"
    )
    if running < AIRFLOW_VS_CLI:
        text += (
            "; what remains is the same engine and client sharing the machine's two cores with the `airflow "
            "dags test` process's other work (its database session and API server) at the same time"
        )
    return text + "."


def _note_pacing(res: dict) -> str:
    p = res["pacing"]["ours"]
    text = f"- Pacing: the steady-state p99 is {p['p99_ms']:.2f} ms (target {PACING_P99_MS:g} ms)"
    if p["startup_max_ms"] > PACING_P99_MS:
        text += (
            f"; the first {p['startup_sends']} records, due when the schedule starts, went out up to "
            f"{p['startup_max_ms']:.0f} ms late: the first sends to the {len(p['first_send_ms'])} topics blocked "
            f"{sum(p['first_send_ms'].values()):.0f} ms in all (kafka-python fetches a topic's metadata at its "
            "first send; the baseline loop fetches it before its schedule starts)"
        )
    return text + "."


def gaps(res: dict) -> list[str]:
    """A cause for each missed target, from the figures of this run; then what else stands out."""
    d = Delivery(**res["delivery"])
    found = [
        _gap_vs_raw_kafka_python(res, d), _gap_vs_operator(d), _gap_librdkafka_vs_raw(res, d),
        _gap_engine(res), _note_airflow(d), _note_pacing(res),
    ]
    return ["## Gaps and causes", "", *(line for line in found if line), *chain_gaps(res)]


def _gap_engine(res: dict) -> str | None:
    engine_us = res["engine_us_per_record"]
    parts = (res.get("engine") or {}).get("parts")
    if engine_us <= ENGINE_US_PER_RECORD or not parts:
        return None
    total = parts["engine_us_per_record"]
    plan, stream = parts["plan_us_per_record"], parts["stream_us_per_record"]
    return (
        f"- **The engine's CPU per record = {engine_us:.2f} µs, target {ENGINE_US_PER_RECORD:g} µs.** Where it goes "
        f"(`bench/engine.py`, the same day, thread CPU, best of 3): planning the visits {plan:.2f} µs per record "
        f"({100 * plan / total:.0f} %: the random draws, a UUID and a tuple per visit), making the records from "
        f"them {stream - plan:.2f} µs ({100 * (stream - plan) / total:.0f} %: three `Record`s, their headers and "
        f"JSON filled into pre-rendered templates, a heap of exits), the runner playing them {total - stream:.2f} µs "
        f"({100 * (total - stream) / total:.0f} %: the merge, pacing checks, counting), of {total:.2f} µs. Every "
        "part is already a loop of locals over pre-built templates; what is left is CPython's cost per object "
        "and per call (about 15 objects per visit, a few calls per record), which a further cut would need "
        "another representation for (records made in C, or batches handed to the client as one buffer)."
    )


def transactions(res: dict) -> list[str]:
    """Section 6: what one writer per day (Kafka transactions, the default) costs."""
    d = Delivery(**res["delivery"])
    lines = [
        "## 6. Transactions (one writer per day): what they cost",
        "",
        "**Full speed** (section 1's day, the same rounds): with transactions a day is committed every "
        "`KAFKA_TRANSACTION_MS` (1 s) or 20,000 records, whichever first, each commit waiting for every record "
        "of the transaction to be acknowledged; a day also opens with `init_transactions` and an owner record, "
        "and its resume scan waits for open transactions.",
        "",
        "| Client | with transactions (records/s) | without | ratio within rounds: median (rounds) |",
        "|---|---:|---:|---|",
    ]
    for label, a, b in (("kafka-python", "cli", "cli_plain"), ("librdkafka", "cli_confluent", "cli_confluent_plain")):
        if d.runs.get(a) and d.runs.get(b):
            rounds = d.ratios(a, b)
            lines.append(
                f"| {label} | {rate_text(d.rate(a))} | {rate_text(d.rate(b))} | {median(rounds):.2f} "
                f"({', '.join(f'{x:.2f}' for x in rounds)}) |"
            )
    tx = res.get("transactions")
    if tx:
        lines += [
            "",
            f"**Live stream** (section 2's dense day at TIME_SCALE=1 for {res['transactions_seconds']:.0f} s, "
            "~13 records/s; with and without transactions side by side on one fresh broker per client). "
            "*Visible after* = when a `read_committed` consumer in the producing process (fetch_max_wait_ms 10, "
            "the same in both modes) received the record − when the runner handed it to the producer; *late* = "
            "send − due. Records due in the same second go out together; with transactions the stream commits "
            "while it waits for the next second.",
            "",
            "| Client | transactions | records | late p50 / p99 ms | visible after p50 / p90 / p99 / max ms | commits |",
            "|---|---|---:|---|---|---:|",
        ]
        for key, r in tx.items():
            client, mode = key.rsplit(" ", 1)
            lines.append(
                f"| {client} | {'on (the default)' if mode == 'txn' else 'off'} | {r['sends']} | "
                f"{r['late_p50_ms']:.2f} / {r['late_p99_ms']:.2f} | {r['visible_p50_ms']:.1f} / "
                f"{r['visible_p90_ms']:.1f} / {r['visible_p99_ms']:.1f} / {r['visible_max_ms']:.1f} | "
                f"{r['transactions']} |"
            )
        lines += [
            "",
            "Without transactions a live record waits for the producer's linger (20 ms) before it is sent; "
            "with them the stream commits, which sends at once, as soon as it is about to wait: a live record "
            "becomes visible sooner, for one commit (a round trip to the transaction coordinator and a marker "
            "per partition written) per second of stream. Every record sent was seen by the consumer.",
        ]
    return lines


def stated(res: dict) -> list[str]:
    """Summary rows without a target: the cost of transactions."""
    d = Delivery(**res["delivery"])
    rows = []
    for label, a, b in (("kafka-python", "cli", "cli_plain"), ("librdkafka", "cli_confluent", "cli_confluent_plain")):
        if d.runs.get(a) and d.runs.get(b):
            ratio = d.ratio(a, b)
            rows.append(
                f"| transactions at full speed, {label}: records/s with / without | {ratio:.2f} × "
                f"({100 * (ratio - 1):+.0f} %) | stated (section 6) |"
            )
    for key in ("kafka-python", "confluent"):
        t, p = (res.get("transactions") or {}).get(f"{key} txn"), (res.get("transactions") or {}).get(f"{key} plain")
        if t and p:
            rows.append(
                f"| transactions, live ({key}): a record visible to `read_committed` consumers after, p50 / p99 | "
                f"{t['visible_p50_ms']:.1f} / {t['visible_p99_ms']:.1f} ms (without: {p['visible_p50_ms']:.1f} / "
                f"{p['visible_p99_ms']:.1f} ms) | stated (section 6) |"
            )
    return rows


def chain(res: dict) -> list[str]:
    """Section 7: a chain of stores in one process, through Celery workers, and live."""
    ch = res.get("chain")
    if not ch:
        return []
    day = date.fromisoformat(ch["day"])
    lines = [
        f"## 7. A chain of {ch['stores']:,} stores",
        "",
        f"A generated catalogue (`bench/chain.py`, the format of `include/foot_traffic/chains/example_chain.yaml`): "
        f"{ch['stores']:,} stores round-robin over {len(ch['zones'])} time zones ({', '.join(ch['zones'])}), open "
        f"00:00-24:00, `daily_customers: {ch['visits_per_store']}` each, profile `seed`: the local day {day} "
        f"(a {day:%A}) of every store is {ch['visits']:,} visits = {3 * ch['visits']:,} records, SEED={SEED_TEXT}. "
        "Every case's records were counted on the broker afterwards (read `read_committed`) and equal the plan.",
        "",
        "**Full speed** (a past day, every record acknowledged and committed):",
        "",
        "| Case | records/s | seconds | × one-store CLI | target |",
        "|---|---:|---:|---:|---|",
    ]
    base = ch.get("baseline")
    if "cli" in ch:
        c = ch["cli"]
        ratio = c["records_per_s"] / base["records_per_s"]
        met = "met" if ratio >= CHAIN_VS_ONE_STORE else "**missed**"
        lines.append(
            f"| `foot-traffic produce --stores FILE --date {day}`, one process | {rate_text(c['records_per_s'])} | "
            f"{c['seconds']:.1f} | {ratio:.2f} | ≥ {CHAIN_VS_ONE_STORE:g}: {met} |"
        )
        cc, bc = ch.get("cli_confluent"), ch.get("baseline_confluent") or {}
        if cc:
            cratio = f"{cc['records_per_s'] / bc['records_per_s']:.2f}" if bc.get("records_per_s") else "-"
            lines.append(
                f"| the same with `KAFKA_CLIENT=confluent` (librdkafka), one process | {rate_text(cc['records_per_s'])} | "
                f"{cc['seconds']:.1f} | {cratio} (against the one-store CLI with librdkafka, section 1's "
                f"`cli_confluent`: {rate_text(bc.get('records_per_s'))}) | stated |"
            )
        where = "section 1's `cli` case, median" if base["source"] == "section 1" else "measured in this run beside it"
        lines.append(
            f"| baseline: the one-store CLI, the same number of records ({where}) | "
            f"{rate_text(base['records_per_s'])} | {'-' if 'seconds' not in base else format(base['seconds'], '.1f')} | 1.00 | |"
        )
    for workers in (1, 2):
        r = ch.get(f"dag_celery_{workers}")
        if r:
            ratio = f"{r['records_per_s'] / base['records_per_s']:.2f}" if base else "-"
            spread = ", ".join(f"{k}: {v}" for k, v in sorted(r["shards_per_worker"].items()))
            lines.append(
                f"| `foot_traffic_chain_daily`, CeleryExecutor, {workers} worker(s) × {r['concurrency']} slot(s); "
                f"{r['shards']} shards of {r['shard_size']} (per worker: {spread}); trigger to success | "
                f"{rate_text(r['records_per_s'])} | {r['seconds']:.1f} | {ratio} | stated |"
            )
        elif f"dag_celery_{workers}" in ch.get("skipped", {}):
            lines.append(f"| `foot_traffic_chain_daily`, CeleryExecutor, {workers} worker(s) | skipped: "
                         f"{ch['skipped'][f'dag_celery_{workers}']} | | | |")
    dags = [ch.get(f"dag_celery_{w}") for w in (1, 2)]
    if all(dags):
        lines += [
            "",
            f"Through Airflow the time runs from `airflow dags trigger -l {day}T00:00:00+00:00` to the run's "
            "success in the metadata database (PostgreSQL, a fresh database per case; Redis as the Celery broker, "
            "an empty DB index; scheduler, dag-processor, api-server and the workers each a process of this machine, "
            "started and warm before the trigger). The run itself (its start to its end): "
            + "; ".join(f"{d['workers']} worker(s) {d['run_seconds']:.1f} s, the shards' task durations summing to "
                        f"{d['shard_seconds_sum']:.1f} s (longest {d['shard_seconds_max']:.1f} s)" for d in dags)
            + f". Two workers / one: {dags[1]['records_per_s'] / dags[0]['records_per_s']:.2f} ×.",
        ]
    if "cli" in ch:
        c = ch["cli"]
        lines += [
            "",
            f"Where the one process's {c['seconds']:.1f} s went (timers around the engine's methods in that run): "
            f"taking {c['open_days']:,} store-days through {c.get('producers', c['open_days']):,} transactional "
            f"producer(s) (with transactions, the default: one per day for every store of the run -- connect, "
            f"`init_transactions`, an owner record per store-day, fencing earlier producers) {c['open_day_s']:.1f} s; "
            f"{c['commits']:,} commits {c['commit_s']:.1f} s; {c['max_threads']:,} threads in the process at most; "
            f"peak RSS {c['peak_rss_mb']:.0f} MB.",
        ]
    sh = ch.get("shape")
    if sh:
        lines += [
            "",
            f"**The records' shape, the client alone**: the same day's records made first, then sent by a raw "
            f"kafka-python loop (`KafkaPublisher`'s producer settings, best of 2 rounds): the chain's "
            f"{sh['chain']['records']:,} records ({sh['chain']['value_bytes']:.0f} bytes of JSON on average, "
            f"{sh['chain']['headers']} headers) {rate_text(sh['chain']['records_per_s'])} records/s; one store's day of as many "
            f"({sh['one_store']['value_bytes']:.0f} bytes, {sh['one_store']['headers']} headers) "
            f"{rate_text(sh['one_store']['records_per_s'])} records/s: {sh['ratio']:.2f} ×.",
        ]
    e = ch.get("engine")
    if e:
        lines += [
            "",
            f"The engine alone (plans, records, the runner's merge of every store-day; a publisher that only counts; "
            f"no Kafka): the chain's day {e['chain']['us_per_record']:.2f} µs per record ({e['chain']['seconds']:.2f} s), "
            f"one store's day of the same {e['one_store']['records'] // 3:,} visits {e['one_store']['us_per_record']:.2f} µs "
            f"per record ({e['one_store']['seconds']:.2f} s): {e['chain']['us_per_record'] / e['one_store']['us_per_record']:.2f} ×.",
        ]
    live = ch.get("live")
    if live:
        m, f = live["many"], live["few"]
        lines += [
            "",
            f"**Live** (TIME_SCALE=1): `foot-traffic produce --stores FILE` (each store's local today, from now) with "
            f"{m['stores']:,} stores and, at the same time on another broker, {f['stores']:,} stores: opening hours "
            f"{live['hours']} in the time zones where the run's start was mid-day ({', '.join(live['zones'])}), "
            f"`daily_customers: {live['visits_per_store']}` each. Sampled with psutil every second for "
            f"{live['seconds']:.0f} s, once every store-day was under way and the records that fell due while the "
            f"run was opening them were sent (caught up), and {live['warmup_s']:.0f} s more; CPU = the process's CPU "
            "time (all threads) / wall time.",
            "",
            "| Stores | store-days open | records/s (progress lines) | CPU % of one core | RSS mean / peak MB | threads "
            "| start to all under way s | records due meanwhile (sent late) | caught up after s |",
            "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
        ]
        for r in (m, f):
            rate = "-" if r["records_per_s"] is None else f"{r['records_per_s']:.1f}"
            lines.append(
                f"| {r['stores']:,} | {r['store_days_open']:,} | {rate} | {r['cpu_pct']:.2f} | "
                f"{r['rss_mean_mb']:.0f} / {r['rss_peak_mb']:.0f} | {r['threads']} | {r['startup_s']:.0f} | "
                f"{r.get('backlog_records', 0):,} | {r.get('caught_up_s', r['startup_s']):.0f} |"
            )
        cpu_met = "met" if m["cpu_pct"] <= CHAIN_LIVE_CPU_PCT else "**missed**"
        rss_met = "met" if m["rss_peak_mb"] <= CHAIN_LIVE_RSS_MB else "**missed**"
        lines += [
            "",
            f"Targets: CPU ≤ {CHAIN_LIVE_CPU_PCT:g} % ({m['cpu_pct']:.2f} %: {cpu_met}); peak RSS ≤ "
            f"{CHAIN_LIVE_RSS_MB:g} MB ({m['rss_peak_mb']:.0f} MB: {rss_met}). **Bytes per live store** (the memory "
            f"one open store-day holds): (mean RSS with {m['stores']:,} − with {f['stores']:,}) / (store-days open "
            f"{m['store_days_open']:,} − {f['store_days_open']:,}) = {live['bytes_per_store'] / 1024:,.0f} KiB.",
        ]
    return lines


def _backfill_trend(bf: dict, n: int = 5) -> dict[str, float]:
    """The last ``n`` days' means over the first ``n`` days' (1.00: flat): records/s of a
    shard (records / shard task durations), wall per day, the workers' peak RSS."""
    days = sorted(bf["days"], key=lambda d: d["end"])
    first, last = days[:n], days[-n:]

    def mean(values):
        values = [v for v in values if v]
        return sum(values) / len(values) if values else float("nan")

    def rate(ds):
        return mean([d["records"] / sum(d["shard_s"]) for d in ds if d["shard_s"]])

    def wall(ds):
        return mean([d.get("wall_since_previous_s") for d in ds])

    def rss(ds):
        return mean([max(r for r in d["worker_rss_mb"] if r) for d in ds if any(d["worker_rss_mb"])])

    def broker(ds):
        return mean([d["broker_rss_mb"] for d in ds])

    return {"rate": rate(last) / rate(first), "wall": wall(last) / wall(first), "rss": rss(last) / rss(first),
            "broker": broker(last) / broker(first), "rate_first": rate(first), "rate_last": rate(last),
            "wall_first": wall(first), "wall_last": wall(last), "rss_first": rss(first), "rss_last": rss(last),
            "broker_first": broker(first), "broker_last": broker(last)}


def scale_out(res: dict) -> list[str]:
    """Section 7b: issue 24's cases: shards under `airflow dags test`, Celery shards, a backfill."""
    ch = res.get("chain") or {}
    dt, bf = ch.get("dagstest"), ch.get("backfill")
    d1, d2 = ch.get("dag_celery_1"), ch.get("dag_celery_2")
    if not (dt or bf or d1 or d2):
        return []
    lines = ["## 7b. Scaling out: shards under Airflow, Celery workers, a backfill of many days", ""]
    if dt:
        lines += [
            f"**Shards under `airflow dags test`** (issue 24's Done-when): a catalogue of {dt['stores']} stores in "
            f"10 time zones, {dt['visits_per_store']} visits a store, the day {ch['day']} ({3 * dt['visits']:,} records), "
            f"through `foot_traffic_chain_daily` in shards of {dt['shard_size']} (SQLite; `dags test` runs the tasks "
            "one after the other in its process) and through `foot-traffic produce --stores` in one process, each on "
            "a fresh broker, alternating. The run's time: its first task's start to its last line (the test "
            "command's own start-up, Airflow's imports and its in-process API server, left out; process walls "
            "beside it). Same records: both topics read back `read_committed`, equal in count, event ids and a "
            "digest of every record (key, value, headers, timestamp).",
            "",
            "| Round | shards | DAG run records/s | DAG run s | DAG process s | CLI records/s | CLI s | CLI process s "
            "| run / CLI | same records | load (1 min) before / after |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for i, r in enumerate(dt["rounds"], 1):
            dag, cli = r["dag"], r["cli"]
            lines.append(
                f"| {i} | {dag['shards']} | {rate_text(dag['records_per_s'])} | {dag['seconds']:.1f} | "
                f"{dag['process_wall_s']:.1f} | {rate_text(cli['records_per_s'])} | {cli['seconds']:.1f} | "
                f"{cli['process_wall_s']:.1f} | {r['ratio']:.2f} | {'yes' if r['same_records'] else '**NO**'} | "
                f"{r['load'][0]:.1f} / {r['load_after'][0]:.1f} |"
            )
        met = "met" if dt["ratio"] >= DAGS_TEST_VS_CLI else "**missed**"
        lines += ["", f"Median run / CLI: {dt['ratio']:.2f} × (target ≥ {DAGS_TEST_VS_CLI:g}: {met}); process walls: "
                      f"{dt['ratio_process']:.2f} ×.", ""]
    if d1 or d2:
        cli_rate = (ch.get("cli") or {}).get("records_per_s")
        lines += [
            f"**Celery shards** (section 7's catalogue, {ch['stores']:,} stores): a shard's own rate is its records / "
            "its task's duration (start to end, as the metadata database has them: the task process's start-up, "
            "the take, the sends and the commit), the sum over the shards against the CLI's rate on the same "
            "catalogue in this run.",
            "",
            "| Workers × slots | shards | trigger to success s | records/s | shard task s (sum / max) | a shard's records/s "
            "(task) | × CLI | once started s (sum) | a shard's records/s once started | × CLI (target ≥ 0.7) "
            "| load before / after |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
        ]
        for d in (x for x in (d1, d2) if x):
            shard_rate = d["records"] / d["shard_seconds_sum"]
            ratio = f"{shard_rate / cli_rate:.2f}" if cli_rate else "-"
            spans = d.get("operator_seconds") or []
            started_rate = d["records"] / sum(spans) if len(spans) == d["shards"] else None
            started_ratio = f"{started_rate / cli_rate:.2f}" if started_rate and cli_rate else "-"
            load = (f"{d['load'][0]:.1f} / {d['load_after'][0]:.1f}" if d.get("load") else "-")
            lines.append(
                f"| {d['workers']} × {d['concurrency']} | {d['shards']} | {d['seconds']:.1f} | {rate_text(d['records_per_s'])} "
                f"| {d['shard_seconds_sum']:.1f} / {d['shard_seconds_max']:.1f} | {rate_text(shard_rate)} | {ratio} | "
                f"{sum(spans):.1f} | {rate_text(started_rate) if started_rate else '-'} | {started_ratio} | {load} |"
            )
        lines += ["", "Once started: from the operator's first log line (`playing the local day ...`: the task process has "
                      "started, parsed the DAG file and built the operator) to its last (`topics written`): connecting, "
                      "taking the store-days, sending, committing. The task's duration adds the task process's "
                      "start-up before it and the XCom/asset bookkeeping after it."]
        if d1 and d2:
            ratio = d2["records_per_s"] / d1["records_per_s"]
            met = "met" if ratio >= TWO_WORKERS_VS_ONE else "**missed**"
            lines += ["", f"Two workers / one (trigger to success): {ratio:.2f} × (target ≥ {TWO_WORKERS_VS_ONE:g}: {met})."]
            f1, f2 = ch.get("dag_celery_1_first"), ch.get("dag_celery_2_first")
            if f1 and f2:
                lines.append(
                    f"These two rows were measured again at the end of the run (the first pair lost its task logs); the "
                    f"first pair, at load {f1['load'][0]:.1f} and {f2['load'][0]:.1f}: 1 worker {rate_text(f1['records_per_s'])} "
                    f"records/s (shard task time {f1['shard_seconds_sum']:.0f} s), 2 workers "
                    f"{rate_text(f2['records_per_s'])} (shard task time {f2['shard_seconds_sum']:.0f} s): "
                    f"{f2['records_per_s'] / f1['records_per_s']:.2f} ×. On 2 cores shared with the broker, Airflow's "
                    "components and other jobs, the second worker gains only what the machine has left."
                )
        lines.append("")
    if bf:
        t = _backfill_trend(bf)
        held = bf["held"]
        topics = list(held)
        lines += [
            f"**A backfill of many days**: `airflow backfill create` of `foot_traffic_chain_daily`, {bf['stores']} "
            f"stores × {bf['visits_per_store']} visits a store-day, {bf['days_asked']} days asked from "
            f"{bf['first_day']}, CeleryExecutor (PostgreSQL, Redis), {bf['workers']} workers × {bf['concurrency']} "
            f"slots, shards of {bf['shard_size']} as `backfill_shard` in pool `foot_traffic_backfill` "
            f"({bf['pool_slots']} slots), `--max-active-runs {bf['max_active_runs']}`; the backfill paused after a "
            f"budget of {bf['budget_s'] / 60:.0f} min of wall time (the runs under way let finish). Load average "
            f"when it started: {' / '.join(f'{x:.1f}' for x in bf['load_start'])}.",
            "",
            f"- Days done: **{bf['days_done']}** of {bf['days_asked']} ({bf['records']:,} records) in "
            f"{bf['wall_s']:.0f} s: {rate_text(bf['records_per_s'])} records/s overall; "
            + ("every day's records landed exactly (read back by day): " + ("yes" if bf["all_landed"] else "**no**")
               if bf.get("all_landed") is not None else
               "the records were not read back by day (the embedded broker holding millions of records answers a "
               "fetch with a frame larger than kafka-python accepts); the end offsets below hold them") + ".",
            f"- Afterwards the topics hold: " + ", ".join(f"`{k}` {v:,} (end offsets, commit markers included)"
                                                      for k, v in held.items())
            + f"; the writers topic's records are in {bf['ledger_partitions_used']} of its partitions (one per day). "
            f"Broker RSS at the end: {bf['broker_rss_end_mb']:.0f} MB.",
            f"- From the first days to the last (mean of the last 5 / the first 5): a shard's records/s "
            f"{t['rate_first']:,.0f} → {t['rate_last']:,.0f} ({t['rate']:.2f} ×); wall per day {t['wall_first']:.1f} → "
            f"{t['wall_last']:.1f} s ({t['wall']:.2f} ×)"
            + ("" if t["rss"] != t["rss"] else
               f"; a worker's peak RSS (its process tree) {t['rss_first']:.0f} → {t['rss_last']:.0f} MB ({t['rss']:.2f} ×); "
               f"the broker's RSS {t['broker_first']:.0f} → {t['broker_last']:.0f} MB ({t['broker']:.2f} ×)") + ".",
        ]
        ph = bf.get("phases")
        if ph:
            n = min(24, len(ph) // 2)

            def mean(rows, k):
                return sum(r[k] for r in rows) / len(rows)

            a, b = ph[:n], ph[-n:]
            lines.append(
                f"- Where a shard's time goes (its task log; the first {n} shards → the last {n}): the task process's "
                f"start-up to the operator's first line {mean(a, 1):.2f} → {mean(b, 1):.2f} s; connecting and taking its "
                f"store-days (`init_transactions`, the take records, the day's ledger partition read) {mean(a, 2):.2f} → "
                f"{mean(b, 2):.2f} s; sending and committing its records {mean(a, 3):.2f} → {mean(b, 3):.2f} s."
            )
        if bf.get("operator_spans"):
            cli = bf.get("cli_same_day") or {}
            per = bf["records"] / bf["operator_seconds_sum"] if bf["operator_spans"] == 2 * bf["days_done"] else None
            big = (ch.get("cli") or {}).get("records_per_s")
            lines.append(
                f"- A shard once started ({bf['operator_spans']} shards, the operator's first to last log line: "
                "connect, take, sends, commits): " + (f"{rate_text(per)} records/s" if per else "-")
                + (f"; section 7's 1,000-store CLI in one process {rate_text(big)} records/s ({per / big:.2f} ×)"
                   if per and big else "")
                + (f"; the CLI on one day of this 100-store catalogue {rate_text(cli.get('records_per_s'))} records/s "
                   f"({per / cli['records_per_s']:.2f} ×: 30,000 records, so its own connect and take weigh as much "
                   "as a shard's)" if per and cli.get("records_per_s") else "") + "."
            )
        if bf.get("note"):
            lines.append(f"- How these were taken: {bf['note']}.")
        lines += ["", *_backfill_days_table(bf)]
    bb = ch.get("backfill_b")
    if bb:
        t = _backfill_trend(bb)
        lines += [
            f"**The same backfill again with the workers' memory sampled** (a fresh broker and database; psutil every "
            f"5 s, each worker's process tree: the Celery worker, its pool processes and their task processes; the "
            f"broker's process): {bb['days_done']} days in a budget of {bb['budget_s'] / 60:.0f} min, "
            f"{rate_text(bb['records_per_s'])} records/s overall, load {bb['load_start'][0]:.1f} when it started. "
            f"Mean of the last 5 days / the first 5: a worker's peak RSS {t['rss_first']:.0f} → {t['rss_last']:.0f} MB "
            f"({t['rss']:.2f} ×); the broker's RSS {t['broker_first']:.0f} → {t['broker_last']:.0f} MB "
            f"({t['broker']:.2f} ×); a shard's records/s {t['rate_first']:,.0f} → {t['rate_last']:,.0f} ({t['rate']:.2f} ×); "
            f"wall per day {t['wall_first']:.1f} → {t['wall_last']:.1f} s ({t['wall']:.2f} ×). Afterwards the topics "
            "hold: " + ", ".join(f"`{k}` {v:,}" for k, v in bb["held"].items()) + " (end offsets).",
            "",
            *_backfill_days_table(bb),
        ]
    return lines


def _backfill_cause(bf: dict) -> str:
    """Why the per-day figures drift, from the shards' phases (task logs), if they do."""
    t = _backfill_trend(bf)
    ph = bf.get("phases")
    if not ph or 0.9 <= t["rate"] <= 1.1:
        return " Its per-day figures stayed flat from the first day to the last."
    n = min(24, len(ph) // 2)
    a, b = ph[:n], ph[-n:]

    def mean(rows, k):
        return sum(r[k] for r in rows) / len(rows)

    return (
        f" A shard's records per task-second went {t['rate']:.2f} × from the first days to the last. Its phases "
        f"(task logs) say where: sending and committing its records {mean(a, 3):.2f} → {mean(b, 3):.2f} s (the data "
        f"path stayed flat), the task process's start-up {mean(a, 1):.2f} → {mean(b, 1):.2f} s and connecting and "
        f"taking {mean(a, 2):.2f} → {mean(b, 2):.2f} s grew: fixed costs of Airflow's task start and of the "
        "transactional producer's `init_transactions` on a broker whose state grew (the embedded broker keeps every "
        "record in one process and snapshot, about 1 GB at the end), on a machine whose load went from 4 to 9 with "
        "other jobs; not the day ledger: a take reads its day's partition only (about 360 records here, section 4b)."
    )


def _backfill_days_table(bf: dict) -> list[str]:
    lines = [
        "| Day | records | run s | wall since the day before s | shard task s | a shard's records/s "
        "| workers' peak RSS MB | broker RSS MB | load |",
        "|---|---:|---:|---:|---|---:|---|---:|---:|",
    ]
    days = sorted(bf["days"], key=lambda d: d["end"])
    step = max(1, len(days) // 12)
    shown = sorted({*range(0, len(days), step), len(days) - 1})
    for i in shown:
        d = days[i]
        rate = d["records"] / sum(d["shard_s"]) if d["shard_s"] else 0
        rss = " / ".join("-" if r is None else f"{r:.0f}" for r in d["worker_rss_mb"])
        broker = "-" if d.get("broker_rss_mb") is None else f"{d['broker_rss_mb']:.0f}"
        load = "-" if d.get("load") is None else f"{d['load']:.1f}"
        lines.append(
            f"| {d['day']} | {d['records']:,} | {d['run_s']:.1f} | {d.get('wall_since_previous_s', 0):.1f} | "
            f"{', '.join(f'{x:.1f}' for x in d['shard_s'])} | {rate_text(rate)} | {rss} | {broker} | {load} |"
        )
    lines.append("")
    return lines


def _engine_share(ch: dict, c: dict) -> str:
    e = ch.get("engine")
    if not e:
        return ""
    extra = (e["chain"]["us_per_record"] - e["one_store"]["us_per_record"]) * c["records"] / 1e6
    text = (
        f"The engine's own share: alone it makes the chain's records at {e['chain']['us_per_record']:.2f} µs each "
        f"against {e['one_store']['us_per_record']:.2f} µs for one store's day, {extra:+.1f} s over the whole day "
        f"(planning each store-day, the merge of {ch['stores']:,} open store-days by due time), of the "
        f"{c['seconds']:.1f} s the run took; and that CPU is not overlapped with kafka-python's sender thread "
        "(the GIL), so it costs the send loop more than its own time (section 1's busy-loop control)."
    )
    seq, inter = e.get("streams_one_after_another"), e.get("streams_interleaved")
    if seq and inter:
        text += (
            f" Why the chain's records cost more to make: the same {ch['stores']:,} store-days' streams, with no "
            f"runner, cost {seq['us_per_record']:.2f} µs per record made one store-day after the other and "
            f"{inter['us_per_record']:.2f} µs made interleaved, one moment of each store in turn (as a merge by due "
            f"time must: a chain's records go out in time order across its stores): the interleaving itself costs "
            f"it. Pre-making each store-day's moments in chunks (32, and larger) did not reduce it (larger chunks were "
            "slower), so it is not the generators' switching alone; the likely mechanism, not pinned down, is "
            f"memory locality across the {ch['stores']:,} streams' live objects."
        )
    return text


def _shape_share(ch: dict) -> str:
    sh = ch.get("shape")
    if not sh:
        return ""
    return (
        f" And the chain's records cost the client more by themselves: longer JSON (`store_id`, local times with "
        f"their offset: {sh['chain']['value_bytes']:.0f} against {sh['one_store']['value_bytes']:.0f} bytes) and "
        f"one more header (`ft-store`), which kafka-python encodes in Python: a raw kafka-python loop sends them at "
        f"{sh['ratio']:.2f} × the one store's rate, so that part of the gap is the records', not the runner's."
    )


def _cpu_cause(m: dict, f: dict) -> str:
    """Whether the live CPU follows the records (transactions) or the stores (producers' threads)."""
    if not (m["records_per_s"] and f["records_per_s"]):
        return ""
    ratio = (m["cpu_pct"] / m["records_per_s"]) / (f["cpu_pct"] / f["records_per_s"])
    if ratio <= 1.5:
        return (
            f" ({ratio:.2f} ×): the CPU follows the records sent, not the number of stores or idle producers. A live "
            "record is committed as soon as the stream is about to wait 5 ms or more (`transactional.IDLE_COMMIT_SECONDS`); "
            f"at {m['records_per_s']:.0f} records/s the stream waits between most records, so most go in a transaction "
            "of their own (AddPartitionsToTxn, produce and EndTxn round trips through kafka-python)"
        )
    return (
        f" ({ratio:.2f} ×): with many stores each record costs more -- the merge of {m['store_days_open']:,} open "
        "store-days by due time, and the idle commits of a transaction that spans them"
    )


def chain_gaps(res: dict) -> list[str]:
    """Causes of the chain's missed targets, from this run's own figures."""
    ch = res.get("chain")
    if not ch:
        return []
    out = []
    for key in ("cli", "baseline", "dag_celery_1", "dag_celery_2"):
        failed = (ch.get(key) or {}).get("failed_attempt")
        if failed:
            out.append(f"- Chain case `{key}`: its first attempt failed ({failed}) and was run once more on a fresh broker; "
                       "the figures are the second attempt's.")
    if "cli" in ch:
        c = ch["cli"]
        ratio = c["records_per_s"] / ch["baseline"]["records_per_s"]
        if ratio < CHAIN_VS_ONE_STORE:
            rest = c["seconds"] - c["open_day_s"] - c["commit_s"]
            out.append(
                f"- **A {ch['stores']:,}-store chain at full speed = {ratio:.2f} × the one-store CLI, target "
                f"{CHAIN_VS_ONE_STORE:g}.** One producer writes every store's day (taking the {c['open_days']:,} "
                f"store-days: {c['open_day_s']:.1f} s; {c['commits']:,} commits: {c['commit_s']:.1f} s), so the "
                f"remaining {rest:.1f} s of the {c['seconds']:.1f} s are the sends. "
                + _engine_share(ch, c)
                + _shape_share(ch)
            )
    d1, d2 = ch.get("dag_celery_1"), ch.get("dag_celery_2")
    cli_rate = (ch.get("cli") or {}).get("records_per_s")
    for d in (x for x in (d1, d2) if x and cli_rate):
        spans = d.get("operator_seconds") or []
        task_rate = d["records"] / d["shard_seconds_sum"]
        started = d["records"] / sum(spans) if len(spans) == d["shards"] else None
        if (started or task_rate) / cli_rate < CELERY_SHARD_VS_CLI:
            out.append(
                f"- **A Celery shard ({d['workers']} worker(s)) = {(started or task_rate) / cli_rate:.2f} × the CLI, target "
                f"{CELERY_SHARD_VS_CLI:g}.** Its {d['records'] // d['shards']:,} records (on average) take "
                + (f"{sum(spans) / len(spans):.1f} s once the task has started, " if started else "")
                + f"{d['shard_seconds_sum'] / d['shards']:.1f} s of task time: the task process's start-up (the Task SDK, "
                "the DAG file parsed again, the operator built) and, inside the operator, connecting and taking the "
                "shard's store-days (a transactional producer: `init_transactions`, the take records, the ledger read "
                "back) are paid per shard, where the one process pays them once; and the shard's process shares the "
                f"machine's 2 cores with the broker, PostgreSQL, Redis, Airflow's components and other jobs (load "
                f"{d['load'][0]:.1f} when it started)."
            )
    if d1 and d2 and d2["records_per_s"] / d1["records_per_s"] < TWO_WORKERS_VS_ONE:
        out.append(
            f"- **Two Celery workers = {d2['records_per_s'] / d1['records_per_s']:.2f} × one, target {TWO_WORKERS_VS_ONE:g}.** "
            f"A worker's slot is a core's worth of Python; this machine has 2 cores, which the embedded broker (it "
            "writes every record), the scheduler, api-server, dag-processor, PostgreSQL and the other jobs on the "
            f"machine (load {d2['load'][0]:.1f}) share with the workers: the second worker's shards run on a core already "
            f"busy. Task time summed over the shards rose from {d1['shard_seconds_sum']:.0f} s with one worker to "
            f"{d2['shard_seconds_sum']:.0f} s with two (each shard ran slower beside the other), so the scaling is the "
            "cores', not Airflow's: measure it on workers with cores of their own."
        )
    bf = ch.get("backfill")
    if bf and bf.get("operator_spans") and cli_rate:
        ratio = bf["records"] / bf["operator_seconds_sum"] / cli_rate
        if ratio < CELERY_SHARD_VS_CLI:
            out.append(
                f"- **A backfill shard once started = {ratio:.2f} × the CLI, target {CELERY_SHARD_VS_CLI:g}.** Its shards "
                f"hold as many records as the Celery rows' ({3 * bf['visits_per_store'] * bf['shard_size']:,}), but ran "
                f"{bf['pool_slots']} at a time beside the run's short tasks on 2 cores shared with the broker, Airflow's "
                f"components and other jobs (load {bf['load_start'][0]:.1f} at its start, up to about 9 during it); "
                "the Celery rows' shards, one at a time per worker at a lower load, reached the target: the shard is "
                "not slower on Celery, the machine was busier."
            )
    if bf and bf["days_done"] < BACKFILL_DAYS_TARGET:
        per_day = bf["wall_s"] / bf["days_done"]
        out.append(
            f"- **The backfill ran {bf['days_done']} of {BACKFILL_DAYS_TARGET} days**: it was given about "
            f"{bf['budget_s'] / 60:.0f} min of wall time on this shared machine (then paused, the runs under way let "
            f"finish); at its {per_day:.1f} s per day the whole year takes about {BACKFILL_DAYS_TARGET * per_day / 3600:.1f} h "
            f"({BACKFILL_DAYS_TARGET * 3 * bf['visits_per_store'] * bf['stores']:,} records)."
            + _backfill_cause(bf)
        )
    live = ch.get("live")
    if live:
        m, f = live["many"], live["few"]
        if m["cpu_pct"] > CHAIN_LIVE_CPU_PCT or m["rss_peak_mb"] > CHAIN_LIVE_RSS_MB:
            def per_record(r):
                return "-" if not r["records_per_s"] else f"{10 * r['cpu_pct'] / r['records_per_s']:.2f} ms"

            out.append(
                f"- **{m['stores']:,} live stores: CPU {m['cpu_pct']:.2f} % (target {CHAIN_LIVE_CPU_PCT:g} %), peak RSS "
                f"{m['rss_peak_mb']:.0f} MB (target {CHAIN_LIVE_RSS_MB:g} MB).** {m['threads']:,} threads; each live "
                f"store costs {live['bytes_per_store'] / 1024:,.0f} KiB (the engine's state per store-day: plan, "
                "stream, the customers inside, the store's pre-rendered record templates). CPU per record sent: "
                f"{per_record(m)} with {m['stores']:,} stores against {per_record(f)} with {f['stores']:,}"
                + _cpu_cause(m, f) + f". Taking the store-days took {m['startup_s']:.0f} s; "
                f"{m.get('backlog_records', 0):,} records fell due meanwhile and went out late."
            )
    return out


def raw_results() -> list[str]:
    where = WORK.relative_to(ROOT) if WORK.is_relative_to(ROOT) else WORK
    return ["## Raw results", "", f"`{where}/results.json` (not committed) holds every run's figures."]


def render(res: dict) -> str:
    if "delivery" not in res:  # ``run_all.py --chain-only`` without an earlier run
        gaps_found = chain_gaps(res)
        sections = [
            ["# Benchmarks", "", f"The chain cases only (`bench/run_all.py --chain-only`) on {res['finished']}."],
            machine_only(res), summary(checks(res)), chain(res), scale_out(res),
            ["## Gaps and causes", "", *gaps_found] if gaps_found else [], raw_results(),
        ]
        return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
    sections = [
        header(res), machine(res), summary(checks(res)) + stated(res), delivery(res), pacing(res),
        memory(res), planning(res), resume_scan(res), dag_parse(res), transactions(res), chain(res), scale_out(res), gaps(res),
        raw_results(),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
