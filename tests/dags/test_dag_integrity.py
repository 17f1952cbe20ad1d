"""Every DAG in dags/ imports cleanly and follows the house rules (no database needed)."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(DAGS))
    bag.caught_warnings = [w for w in caught if str(DAGS) in str(w.filename) or "foot_traffic" in str(w.filename)]
    return bag


def test_every_dag_file_imports_without_errors_or_warnings(dagbag):
    assert dagbag.import_errors == {}
    assert [str(w.message) for w in dagbag.caught_warnings] == []
    assert dagbag.dags, "no DAG found in dags/"


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_imports_without_any_warning_and_without_the_engine(dag_file):
    """A fresh interpreter, -W error: a deprecated import (FutureWarning/DeprecationWarning) in
    the DAG file fails here. Parsing does no work: neither Kafka client nor the engine's
    runner is imported (their import is what would make a parse slow; ``make bench``
    measures the parse time itself)."""
    code = (
        "import sys, warnings, runpy\n"
        "import airflow.sdk, pydantic\n"  # Airflow's own start-up is not ours
        "warnings.simplefilter('error')\n"
        f"runpy.run_path({str(DAGS / dag_file)!r})\n"
        "heavy = ('kafka', 'confluent_kafka', 'foot_traffic.run.runner', 'foot_traffic.delivery.transactions', 'foot_traffic.plan.storeday')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1:] in ([], [""]), f"imported at parse time: {proc.stdout.strip()}"


@pytest.mark.parametrize("rule", ["tags", "retries", "owner", "doc", "schedule"])
def test_house_rules(dagbag, rule):
    for dag_id, dag in dagbag.dags.items():
        if rule == "tags":
            assert dag.tags, f"{dag_id}: no tags"
        elif rule == "retries":
            for task in dag.tasks:
                assert task.retries >= 2, f"{dag_id}.{task.task_id}: retries {task.retries} < 2"
        elif rule == "owner":
            for task in dag.tasks:
                assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id}: no owner"
        elif rule == "doc":
            assert (dag.doc_md or "").strip(), f"{dag_id}: no doc_md"
        elif rule == "schedule":
            if "demo" in dag.tags:  # trigger-only by design
                continue
            assert dag.schedule is not None and dag.timetable.can_be_scheduled, f"{dag_id}: no schedule"


def test_param_defaults_are_valid(dagbag):
    for dag_id, dag in dagbag.dags.items():
        dag.params.validate()  # raises ParamValidationError for an invalid default
        for name in dag.params:
            dag.params.get_param(name).resolve()


def test_foot_traffic_daily_shape(dagbag):
    dag = dagbag.dags["foot_traffic_daily"]
    assert dag.catchup is False
    assert dag.max_active_runs == 2
    assert dag.schedule in ("0 0 * * *", "@daily")
    assert str(getattr(dag.timetable.timezone, "name", dag.timetable.timezone)) in ("UTC", "Etc/UTC")
    task = dag.get_task("produce_day")
    assert type(task).__name__ == "FootTrafficProducerOperator"
    assert task.execution_timeout > timedelta(days=1)
    assert isinstance(task.retry_exponential_backoff, float) and task.retry_exponential_backoff >= 2.0
    assert task.retry_delay > timedelta(0)
    assert_announced_after(dag, "produce_day")
    expected = {
        "daily_customers", "base_daily_customers", "daily_variation_pct", "disable_daily_variation",
        "time_scale", "seed", "topic", "topic_realistic", "from_midnight", "profile_file",
        "sensor_miss_rate", "sensor_double_rate", "sensor_batch_seconds", "sensor_upload_delay_seconds", "validate",
    }
    assert expected <= set(dag.params)
    for name in ("daily_customers", "base_daily_customers", "time_scale", "seed", "daily_variation_pct",
                 "sensor_miss_rate", "sensor_double_rate", "sensor_batch_seconds", "sensor_upload_delay_seconds"):
        schema = dag.params.get_param(name).schema
        assert {"minimum", "exclusiveMinimum"} & set(schema), f"{name}: no minimum"
        assert {"maximum", "exclusiveMaximum"} & set(schema), f"{name}: no maximum"


def assert_announced_after(dag, *producer_task_ids):
    """The topics' asset events come from the DAG's last task, one run at a time: the
    producer has no outlet (Airflow's first creation of an asset races; see assets.py).
    Two producer tasks (one skipped by a branch): the announcement runs after either."""
    from foot_traffic_airflow.assets import ANNOUNCE_TASK_ID

    announce = dag.get_task(ANNOUNCE_TASK_ID)
    assert announce.upstream_task_ids == set(producer_task_ids) and not announce.downstream_task_ids
    assert announce.max_active_tis_per_dag == 1
    assert [type(o).__name__ for o in announce.outlets] == ["AssetAlias"]
    assert announce.outlets[0].name == "foot_traffic_topics"  # resolved at run time to the broker really used
    expected_rule = "all_success" if len(producer_task_ids) == 1 else "none_failed_min_one_success"
    assert str(getattr(announce.trigger_rule, "value", announce.trigger_rule)) == expected_rule
    for producer_task_id in producer_task_ids:
        assert not dag.get_task(producer_task_id).outlets


def test_param_defaults_follow_the_original_environment():
    from foot_traffic_airflow.params import dag_params

    params = dag_params({"KAFKA_TOPIC": "ft_old", "TIME_SCALE": "60", "SEED": "42", "DAILY_CUSTOMERS": "500",
                         "DISABLE_DAILY_VARIATION": "true", "BASE_DAILY_CUSTOMERS": "800"})
    assert params["topic"].value == "ft_old"
    assert params["time_scale"].value == 60.0
    assert params["seed"].value == 42
    assert params["daily_customers"].value == 500
    assert params["disable_daily_variation"].value is True
    assert params["base_daily_customers"].value == 800
    assert params["topic_realistic"].value == "foot_traffic_realistic"


def test_malformed_environment_is_an_import_error_naming_the_variable():
    from foot_traffic_airflow.params import dag_params

    with pytest.raises(ValueError, match="TIME_SCALE"):
        dag_params({"TIME_SCALE": "fast"})


def test_foot_traffic_chain_daily_shape(dagbag):
    from foot_traffic_airflow.chain import CHAIN_DAY_ZONE

    dag = dagbag.dags["foot_traffic_chain_daily"]
    assert dag.catchup is False and dag.max_active_runs == 3
    assert str(getattr(dag.timetable.timezone, "name", dag.timetable.timezone)) == CHAIN_DAY_ZONE
    assert dag.timetable.expression == "0 0 * * *"
    check = dag.get_task("check_catalogue")
    assert dag.get_task("choose_shards").upstream_task_ids == {"check_catalogue"}
    for task_id in ("produce_shard", "backfill_shard"):
        produce = dag.get_task(task_id)
        assert produce.upstream_task_ids == {"check_catalogue", "choose_shards"}
        assert type(produce).__name__ == "MappedOperator"
        assert produce.operator_class.__name__ == "FootTrafficProducerOperator"
        partial = produce.partial_kwargs
        assert partial["chain"] is True and partial["day_timezone"] == CHAIN_DAY_ZONE
        assert "task.stores" in partial.get("map_index_template", produce.map_index_template or "")
        assert produce.max_active_tis_per_dag >= 1 and produce.execution_timeout > timedelta(days=2)
        assert not produce.partial_kwargs.get("outlets", produce.outlets)
    assert_announced_after(dag, "produce_shard", "backfill_shard")
    assert set(dag.params) == {
        "stores_file", "shard_size", "seed", "time_scale", "from_midnight", "daily_variation_pct",
        "disable_daily_variation", "closing_grace_minutes", "topic", "topic_realistic", "validate",
        "sensor_miss_rate", "sensor_double_rate", "sensor_batch_seconds", "sensor_upload_delay_seconds",
    }
    assert dag.params["stores_file"].endswith("example_chain.yaml")
    for name in ("shard_size", "closing_grace_minutes", "seed", "time_scale"):
        schema = dag.params.get_param(name).schema
        assert {"minimum", "exclusiveMinimum"} & set(schema) and {"maximum", "exclusiveMaximum"} & set(schema), name
    assert check.retries >= 2
    # the one-store DAG keeps its Params and gets none of the chain's
    assert not {"stores_file", "shard_size", "closing_grace_minutes"} & set(dagbag.dags["foot_traffic_daily"].params)


def chose(dag, run_type) -> str:
    """What the chain DAG's branch returns for a run of ``run_type`` (its callable, run as
    the task would: the run from the task's context)."""
    from types import SimpleNamespace

    from airflow.sdk.execution_time.context import set_current_context

    choose = dag.get_task("choose_shards")
    with set_current_context({"dag_run": SimpleNamespace(run_type=run_type)}):
        return choose.python_callable()


def test_a_backfill_runs_its_shards_in_their_own_pool_below_the_live_ones(dagbag):
    from airflow.utils.types import DagRunType

    dag = dagbag.dags["foot_traffic_chain_daily"]
    live, backfill = dag.get_task("produce_shard"), dag.get_task("backfill_shard")
    choose = dag.get_task("choose_shards")
    assert choose.downstream_task_ids == {"produce_shard", "backfill_shard"}
    assert type(choose).__name__ == "_BranchPythonDecoratedOperator"
    # the branch: a backfill's shards, else the live task (the other one is skipped)
    assert chose(dag, DagRunType.BACKFILL_JOB) == "backfill_shard"
    for run_type in (DagRunType.SCHEDULED, DagRunType.MANUAL, DagRunType.ASSET_TRIGGERED, "scheduled", None):
        assert chose(dag, run_type) == "produce_shard", run_type
    assert chose(dag, "backfill") == "backfill_shard"
    # the defaults: a pool of its own, a lower priority (absolute: not summed downstream), own cap
    assert live.pool == "default_pool" and backfill.pool == "foot_traffic_backfill"
    assert backfill.priority_weight < live.priority_weight
    assert {str(getattr(t.weight_rule, "value", t.weight_rule)) for t in (live, backfill)} == {"absolute"}
    assert (live.max_active_tis_per_dag, backfill.max_active_tis_per_dag) == (16, 4)


def test_the_shard_tasks_pools_and_priorities_come_from_the_environment(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    env = {"FOOT_TRAFFIC_CHAIN_POOL": "kafka_live", "FOOT_TRAFFIC_CHAIN_PRIORITY": "50",
           "FOOT_TRAFFIC_CHAIN_BACKFILL_POOL": "kafka_backfill", "FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY": "5",
           "FOOT_TRAFFIC_CHAIN_BACKFILL_MAX_ACTIVE_SHARDS": "2", "FOOT_TRAFFIC_CHAIN_MAX_ACTIVE_SHARDS": "8"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAGS / "foot_traffic_chain_daily.py"))
    assert bag.import_errors == {}
    dag = bag.dags["foot_traffic_chain_daily"]
    assert {t: (dag.get_task(t).pool, dag.get_task(t).priority_weight, dag.get_task(t).max_active_tis_per_dag)
            for t in ("produce_shard", "backfill_shard")} == {
        "produce_shard": ("kafka_live", 50, 8), "backfill_shard": ("kafka_backfill", 5, 2)}
    monkeypatch.setenv("FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY", "50")
    bag = DagBag(dag_folder=str(DAGS / "foot_traffic_chain_daily.py"))
    (error,) = bag.import_errors.values()
    assert "FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY=50 must be lower than FOOT_TRAFFIC_CHAIN_PRIORITY=50" in error


@pytest.mark.parametrize(("env", "message"), [
    ({"FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY": "10"}, "FOOT_TRAFFIC_CHAIN_BACKFILL_PRIORITY=10 must be lower than "
                                                     "FOOT_TRAFFIC_CHAIN_PRIORITY=10"),
    ({"FOOT_TRAFFIC_CHAIN_PRIORITY": "high"}, "FOOT_TRAFFIC_CHAIN_PRIORITY='high': must be a whole number 1"),
    ({"FOOT_TRAFFIC_CHAIN_BACKFILL_MAX_ACTIVE_SHARDS": "0"},
     "FOOT_TRAFFIC_CHAIN_BACKFILL_MAX_ACTIVE_SHARDS='0': must be a whole number 1"),
])
def test_a_backfill_priority_not_below_the_live_one_is_refused_naming_both(env, message):
    from foot_traffic_airflow.chain import chain_dag_options

    with pytest.raises(ValueError, match=re.escape(message)):
        chain_dag_options(env)


def test_foot_traffic_demo_plays_yesterday_in_a_minute_with_every_field_editable(dagbag):
    dag = dagbag.dags["foot_traffic_demo"]
    assert dag.schedule is None and dag.max_active_runs == 1 and "demo" in dag.tags
    defaults = {name: dag.params[name] for name in dag.params}
    assert defaults["time_scale"] == 1440.0 and defaults["from_midnight"] is True and defaults["day"] is None
    daily = dagbag.dags["foot_traffic_daily"]
    assert set(daily.params) | {"day"} == set(dag.params)  # the same settings, plus the day
    task = dag.get_task("produce_day")
    assert type(task).__name__ == "FootTrafficProducerOperator"
    assert task.days_before == 1 and "params.day" in task.day
    assert_announced_after(dag, "produce_day")
    assert dag.params.get_param("day").schema["format"] == "date"


def test_demo_defaults_are_validated_like_settings():
    from foot_traffic_airflow.params import dag_params

    with pytest.raises(ValueError, match="time_scale"):
        dag_params({}, defaults={"time_scale": 0})


# -- the trigger forms ----------------------------------------------------------------------
SECTION_ORDER = {"foot_traffic_daily": ["Day", "Model", "Kafka", "Sensor"],
                 "foot_traffic_demo": ["Day", "Model", "Kafka", "Sensor"],
                 "foot_traffic_chain_daily": ["Chain", "Day", "Model", "Kafka", "Sensor"]}


def sections_in_order(dag) -> list[str]:
    """The form's sections as Airflow's form draws them: in the order of their first field."""
    return list(dict.fromkeys(dag.params.get_param(name).schema.get("section") for name in dag.params))


@pytest.mark.parametrize("dag_id", sorted(SECTION_ORDER))
def test_each_form_is_grouped_in_sections_in_order(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert sections_in_order(dag) == SECTION_ORDER[dag_id]
    sections = [dag.params.get_param(name).schema.get("section") for name in dag.params]
    assert sections == sorted(sections, key=SECTION_ORDER[dag_id].index), "a section's fields are together"
    for name in dag.params:
        schema = dag.params.get_param(name).schema
        assert schema.get("title"), f"{dag_id}.{name}: no title"
        # Airflow's form marks a field "required" unless its type admits null: a switch never is.
        if "boolean" in (schema["type"] if isinstance(schema["type"], list) else [schema["type"]]):
            assert "null" in schema["type"], f"{dag_id}.{name}: a switch marked required"


def test_the_chain_form_starts_with_its_own_fields(dagbag):
    names = list(dagbag.dags["foot_traffic_chain_daily"].params)
    assert names[:3] == ["stores_file", "shard_size", "closing_grace_minutes"]
    assert list(dagbag.dags["foot_traffic_demo"].params)[0] == "day"


def form_text(dag, name) -> str:
    param = dag.params.get_param(name)
    return param.description or param.schema.get("description_md") or ""


def test_every_description_is_true_for_its_form(dagbag):
    """No description names a field its form lacks: the chain's stores have their own
    baselines, so its form never speaks of *the* baseline field."""
    chain = dagbag.dags["foot_traffic_chain_daily"]
    titles = {dag_id: {dag.params.get_param(n).schema["title"] for n in dag.params} for dag_id, dag in dagbag.dags.items()}
    assert "Baseline customers" not in titles["foot_traffic_chain_daily"]
    for name in chain.params:
        text = form_text(chain, name)
        assert text, name
        assert "Baseline customers" not in text and "around the baseline" not in text, (name, text)
    assert "each store's baseline" in form_text(chain, "daily_variation_pct")
    for dag_id, dag in dagbag.dags.items():
        for name in dag.params:
            for other in re.findall(r"“([^”]+)”", form_text(dag, name)):  # another field, by its title
                assert other in titles[dag_id], f"{dag_id}.{name} names a field its form lacks: {other}"
            if dag.params.get_param(name).description:  # plain text: shown as typed, no Markdown
                assert "*" not in dag.params.get_param(name).description, (dag_id, name)
    daily = dagbag.dags["foot_traffic_daily"]
    assert "Baseline customers" in form_text(daily, "daily_variation_pct")


def test_stores_per_shard_names_its_variable_and_the_form_warns_about_the_unpause(dagbag):
    chain = dagbag.dags["foot_traffic_chain_daily"]
    assert "FOOT_TRAFFIC_CHAIN_SHARD_SIZE" in form_text(chain, "shard_size")
    first = chain.params.get_param("stores_file")
    # Markdown is shown only when there is no plain description.
    assert first.description is None and "Unpause foot_traffic_chain_daily on trigger" in first.schema["description_md"]
    assert "unpauses this DAG" in chain.doc_md and "10:00 UTC" in chain.doc_md


def test_the_chain_schedule_says_its_time_zone(dagbag):
    """The UI shows the timetable's description: the chain's names UTC+14; it survives
    serialization because the plugin registers the timetable."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags["foot_traffic_chain_daily"]
    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert served.timetable.description == "At 00:00, Pacific/Kiritimati (UTC+14)"
    assert served.timetable.summary == "0 0 * * *"


def test_the_docs_say_the_demo_has_fields_to_edit(dagbag):
    assert "no field to edit" not in dagbag.dags["foot_traffic_daily"].doc_md
    assert "every field of its form can be\nedited" in dagbag.dags["foot_traffic_demo"].doc_md


def test_every_run_setting_has_one_form_field_and_the_engine_no_form_details():
    """Each setting a run can set is declared once in ``Settings`` (type, bounds, variable,
    name) and placed once in the Airflow form (``FORM``); nothing of the form is in the engine."""
    from foot_traffic.settings import Settings
    from foot_traffic_airflow.params import FORM

    placed = [f.setting for f in FORM]
    assert sorted(placed) == sorted(set(placed)) == sorted(Settings.params().values())
    for name, field in Settings.model_fields.items():
        assert field.title is None, f"{name}: a form title in the engine"
        extra = field.json_schema_extra
        if isinstance(extra, dict) and "param" in extra:
            assert set(extra["param"]) == {"name"}, name
