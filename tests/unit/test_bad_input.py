"""Bad input, table-driven: every setting x bad values gives exactly one clear error that
names the setting, before anything is sent; the parser never raises anything else.

``Settings.from_env`` is checked for every (setting, value); ``foot-traffic produce``
for a subset (exit code 2, the setting named on stderr, no connection made to the broker).
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from foot_traffic import cli
from foot_traffic.settings import Settings, SettingsError

HUGE = "1" + "0" * 400  # an integer far beyond every range; as a float it overflows to inf
NUMERIC_JUNK = ["abc", "1,5", "12 34", "0x10", "½", "١٢"]  # not numbers (the last: Arabic-Indic digits)
NON_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"]

COUNT_BAD = NUMERIC_JUNK + NON_FINITE + ["-1", "0", "1.5", "true", HUGE, "10000001"]
FLOAT_BAD = NUMERIC_JUNK + NON_FINITE + ["-1", "true", HUGE]
INT_BAD = NUMERIC_JUNK + NON_FINITE + ["1.5", "true", HUGE]
FLAG_BAD = ["", "maybe", "2", "-1", "nan", "yes please", "tru"]
BROKER_BAD = [
    "", " ", "kafka", "kafka:", ":9092", "kafka:0", "kafka:65536", "kafka:abc", "kafka:-1",
    "a:1,,b:2", "a:1,", "a:1;b:2", "a:1 b:2", "http://kafka:9092", "kafka 9092", "-kafka:9092",
    "kafka_1:9092", "kafka:9092/", "[::1:9092", "kafka:99999999999999999999",
]
TOPIC_BAD = ["", " ", "bad topic", "a/b", "a:b", "a*b", "topic,other", "ünïcode", ".", "..", "x" * 250, "tab\there"]

# setting -> values that must each be rejected (strings, as the environment gives them)
BAD: dict[str, list[str]] = {
    "KAFKA_BROKER": BROKER_BAD,
    "KAFKA_TOPIC": TOPIC_BAD,
    "KAFKA_TOPIC_REALISTIC": TOPIC_BAD,
    "SLEEP": FLOAT_BAD + ["", "0", "61"],
    "TIME_SCALE": FLOAT_BAD + ["", "0", "1000001"],
    "DEFAULT_DAILY_CUSTOMERS": COUNT_BAD + [""],
    "BASE_DAILY_CUSTOMERS": COUNT_BAD,  # empty = unset
    "DAILY_CUSTOMERS": COUNT_BAD,  # empty = unset
    "DAILY_VARIATION_PCT": FLOAT_BAD + ["", "1", "1.5"],
    "DISABLE_DAILY_VARIATION": FLAG_BAD,
    "SEED": INT_BAD + ["-1", str(2**63)],  # empty = unset
    "MAX_RETRIES": INT_BAD + ["", "-1", "101"],
    "RETRY_BACKOFF_SECONDS": FLOAT_BAD + ["", "3601"],
    "FOOT_TRAFFIC_PROFILE": ["/no/such/profile.yaml", "/", "nul\x00byte", "retial", "Retail"],  # empty = unset
    "SENSOR_MISS_RATE": FLOAT_BAD + ["", "0.51", "1"],
    "SENSOR_PARTY_MISS_FACTOR": FLOAT_BAD + ["", "0.5", "21"],
    "SENSOR_DOUBLE_RATE": FLOAT_BAD + ["", "0.51", "1"],
    "SENSOR_BATCH_SECONDS": INT_BAD + ["", "-1", "3601"],
    "SENSOR_UPLOAD_DELAY_SECONDS": INT_BAD + ["", "-1", "3601", "30"],  # 30 without a batch
    "FOOT_TRAFFIC_VALIDATE": FLAG_BAD,
    "STORES_FILE": ["/no/such/stores.yaml", "/", "nul\x00byte"],  # empty = unset
    "CLOSING_GRACE_MINUTES": INT_BAD + ["", "-1", "1441"],
    "FOOT_TRAFFIC_RESUME": FLAG_BAD,
    "FOOT_TRAFFIC_FROM_MIDNIGHT": FLAG_BAD,
    "KAFKA_COMPRESSION": ["", "zip", "lz4x", "1"],
    "KAFKA_CLIENT": ["", "librdkafka", "kafka_python", "1"],
    "KAFKA_TRANSACTIONS": FLAG_BAD,
    "KAFKA_TRANSACTION_MS": INT_BAD + ["", "0", "9", "60001", "-1"],
    "TOPIC_PARTITIONS": INT_BAD + ["", "0", "-1", "10001"],
    "TOPIC_REPLICATION_FACTOR": INT_BAD + ["", "0", "-1", "33"],
    "TOPIC_RETENTION_MS": INT_BAD + ["", "-2", str(2**63)],
}

# Wrong Python types, as an Airflow Param or a caller of Settings.build could pass them.
WRONG_TYPE: dict[str, list[object]] = {
    "KAFKA_BROKER": [9092, None, {"host": "kafka"}, ["kafka:9092", 1]],
    "KAFKA_TOPIC": [5, None, ["t"], {"t": 1}],
    "SLEEP": [True, None, [1], {"s": 1}, "1s"],
    "TIME_SCALE": [False, None, [1], float("nan"), float("inf"), complex(1, 1)],
    "DAILY_CUSTOMERS": [True, 1.5, [500], {"n": 1}, float("nan"), -3],
    "SEED": [True, 1.5, [7], float("inf")],
    "MAX_RETRIES": [True, 2.5, [3], None],
    "DISABLE_DAILY_VARIATION": [2, [True], {"x": 1}, None],
}


def test_the_table_covers_every_setting():
    assert set(BAD) == set(Settings.env_names())


CASES = [(name, value) for name, values in BAD.items() for value in values]


def _one_problem_naming(exc: SettingsError, name: str) -> str:
    assert len(exc.problems) == 1, exc.problems
    problem = exc.problems[0]
    assert problem.startswith(f"{name}=") or problem.startswith(f"{name}:"), problem
    assert len(problem) < 300, problem
    return problem


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v[:20]!r}" for n, v in CASES])
def test_each_bad_value_gives_one_error_naming_the_setting(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    _one_problem_naming(info.value, name)


WRONG = [(name, value) for name, values in WRONG_TYPE.items() for value in values]


@pytest.mark.parametrize(("name", "value"), WRONG, ids=[f"{n}={v!r}"[:40] for n, v in WRONG])
def test_each_wrong_type_gives_one_error_naming_the_setting(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.build({name: value})
    _one_problem_naming(info.value, name)


def test_all_problems_at_once_one_line_each():
    env = {name: values[0] for name, values in BAD.items()}
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    named = {p.split("=", 1)[0].split(":", 1)[0] for p in info.value.problems}
    assert named == set(BAD)
    assert len(info.value.problems) == len(BAD)


# -- the command: exit code 2, the setting named, no connection made ------------------------
@pytest.fixture
def listener():
    """A TCP port that records whether anyone connected (stands in for the broker)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock

    sock.close()


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


CLI_SUBSET = [
    ("TIME_SCALE", "0"), ("TIME_SCALE", "nan"), ("SLEEP", "-1"), ("DAILY_CUSTOMERS", "-5"),
    ("DAILY_CUSTOMERS", "abc"), ("DEFAULT_DAILY_CUSTOMERS", "0"), ("DAILY_VARIATION_PCT", "inf"),
    ("SEED", "1.5"), ("MAX_RETRIES", "-1"), ("RETRY_BACKOFF_SECONDS", HUGE),
    ("KAFKA_TOPIC", "bad topic"), ("KAFKA_TOPIC_REALISTIC", "a/b"), ("DISABLE_DAILY_VARIATION", "maybe"),
    ("FOOT_TRAFFIC_PROFILE", "/no/such/profile.yaml"), ("TOPIC_PARTITIONS", "0"),
]


@pytest.mark.parametrize(("name", "value"), CLI_SUBSET, ids=[f"{n}={v[:20]}" for n, v in CLI_SUBSET])
def test_produce_exits_2_naming_the_setting_and_sends_nothing(name, value, listener, monkeypatch, capsys):
    for var in Settings.env_names():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAFKA_BROKER", "127.0.0.1:%d" % listener.getsockname()[1])
    monkeypatch.setenv(name, value)
    assert cli.main(["produce", "--date", "2025-11-07"]) == 2
    err = capsys.readouterr().err
    problems = [line for line in err.splitlines() if line.strip().startswith("- ")]
    assert len(problems) == 1 and name in problems[0], err
    assert not _connected(listener), "a connection was made despite invalid settings"


@pytest.mark.parametrize("broker", ["kafka", "a:1;b:2", "kafka:65536", ""])
def test_produce_with_a_malformed_broker_list_exits_2(broker, monkeypatch, capsys):
    for var in Settings.env_names():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAFKA_BROKER", broker)
    assert cli.main(["produce", "--date", "2025-11-07"]) == 2
    err = capsys.readouterr().err
    assert "KAFKA_BROKER" in err and "host:port" in err


def test_the_console_script_itself_exits_2(listener, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in Settings.env_names()}
    env.update({"KAFKA_BROKER": "127.0.0.1:%d" % listener.getsockname()[1], "TIME_SCALE": "-3"})
    proc = subprocess.run(
        [sys.executable, "-m", "foot_traffic", "produce", "--date", "2025-11-07"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "TIME_SCALE" in proc.stderr and "Traceback" not in proc.stderr
    assert not _connected(listener)


# -- property: the parser raises nothing but SettingsError ----------------------------------
NAMES = Settings.env_names()
text = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", "0", "-1", "1e400", "nan", "inf", "true", "1.5", "9" * 40, "a:1", "kafka:9092", "\x00", "p" * 5000]
)


def test_a_profile_path_too_long_for_the_os_is_a_settings_error():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"FOOT_TRAFFIC_PROFILE": "p" * 5000})
    _one_problem_naming(info.value, "FOOT_TRAFFIC_PROFILE")


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=10), text, max_size=len(NAMES) + 2))
def test_from_env_on_arbitrary_text_raises_only_settings_error(environ):
    try:
        s = Settings.from_env(environ)
    except SettingsError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    assert isinstance(s, Settings)
    assert s.time_scale > 0 and math.isfinite(s.time_scale) and math.isfinite(s.sleep)


anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(NAMES), anything, max_size=5))
def test_build_on_arbitrary_values_raises_only_settings_error(data):
    try:
        Settings.build(data)
    except SettingsError as exc:
        assert exc.problems
