"""Settings: the original variables, their defaults, and validation reported all at once."""

from pathlib import Path

import pytest

from foot_traffic.settings import Settings, SettingsError


def test_defaults_are_the_original_producers():
    s = Settings.from_env({})
    assert s.kafka_broker == ("kafka:9092",)
    assert s.kafka_topic == "foot_traffic"
    assert s.kafka_topic_realistic == "foot_traffic_realistic"
    assert s.sleep == 0.5
    assert s.time_scale == 1.0
    assert s.default_daily_customers == 1000
    assert s.baseline == 1000
    assert s.daily_customers is None
    assert s.daily_variation_pct == pytest.approx(0.10)
    assert s.disable_daily_variation is False
    assert s.seed is None
    assert s.max_retries == 6
    assert s.retry_backoff_seconds == 5.0


def test_every_variable_of_the_original_table_is_read():
    env = {
        "KAFKA_BROKER": "a:1, b.example:9093",
        "KAFKA_TOPIC": "t1",
        "KAFKA_TOPIC_REALISTIC": "t2",
        "SLEEP": "0.25",
        "TIME_SCALE": "60",
        "DEFAULT_DAILY_CUSTOMERS": "800",
        "BASE_DAILY_CUSTOMERS": "900",
        "DAILY_CUSTOMERS": "500",
        "DAILY_VARIATION_PCT": "0.2",
        "DISABLE_DAILY_VARIATION": "true",
        "SEED": "42",
        "MAX_RETRIES": "3",
        "RETRY_BACKOFF_SECONDS": "1.5",
    }
    s = Settings.from_env(env)
    assert s.kafka_broker == ("a:1", "b.example:9093")
    assert s.bootstrap_servers == "a:1,b.example:9093"
    assert (s.kafka_topic, s.kafka_topic_realistic) == ("t1", "t2")
    assert (s.sleep, s.time_scale) == (0.25, 60.0)
    assert (s.default_daily_customers, s.baseline, s.daily_customers) == (800, 900, 500)
    assert s.daily_variation_pct == 0.2 and s.disable_daily_variation and not s.variation_enabled
    assert (s.seed, s.max_retries, s.retry_backoff_seconds) == (42, 3, 1.5)


@pytest.mark.parametrize("word,expected", [("1", True), ("true", True), ("True", True), ("0", False), ("false", False), ("no", False)])
def test_disable_daily_variation_words(word, expected):
    assert Settings.from_env({"DISABLE_DAILY_VARIATION": word}).disable_daily_variation is expected


def test_zero_pct_disables_variation():
    assert not Settings.from_env({"DAILY_VARIATION_PCT": "0"}).variation_enabled


def test_empty_optional_values_mean_unset():
    s = Settings.from_env({"DAILY_CUSTOMERS": "", "SEED": " ", "BASE_DAILY_CUSTOMERS": ""})
    assert s.daily_customers is None and s.seed is None and s.base_daily_customers is None


def test_all_problems_reported_at_once_each_naming_the_variable():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"KAFKA_BROKER": "nohost", "TIME_SCALE": "0", "SEED": "x", "DAILY_CUSTOMERS": "-1"})
    problems = info.value.problems
    assert len(problems) == 4
    for name, value in [("KAFKA_BROKER", "nohost"), ("TIME_SCALE", "0"), ("SEED", "x"), ("DAILY_CUSTOMERS", "-1")]:
        assert any(p.startswith(f"{name}='{value}'") for p in problems), problems


def test_settings_are_frozen():
    s = Settings.from_env({})
    with pytest.raises(Exception):
        s.time_scale = 2.0  # type: ignore[misc]


def test_overrides_win_and_none_keeps_env():
    s = Settings.from_env({"SEED": "1", "TIME_SCALE": "2"}, seed=5, time_scale=None)
    assert s.seed == 5 and s.time_scale == 2.0


def test_profile_file_must_exist(tmp_path: Path):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"FOOT_TRAFFIC_PROFILE": str(tmp_path / "missing.yaml")})
    assert info.value.problems[0].startswith("FOOT_TRAFFIC_PROFILE=")
