"""The store catalogue: the example chain loads; every problem is reported at once, naming
the store and the field; the command refuses a bad catalogue (exit 2) before connecting."""

from __future__ import annotations

import socket
import textwrap
from datetime import date
from pathlib import Path

import pytest
import yaml

from foot_traffic import cli
from foot_traffic.settings import Settings, SettingsError
from foot_traffic.plan.stores import CatalogueError, catalogue_from_dict, load_catalogue

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "include" / "foot_traffic" / "chains" / "example_chain.yaml"


def store(**fields):
    doc = {
        "id": "rome-centro",
        "timezone": "Europe/Rome",
        "base_daily_customers": 1400,
        "opening_hours": {"mon-fri": "08:30-20:00"},
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def problems_of(*stores, **top):
    with pytest.raises(CatalogueError) as info:
        catalogue_from_dict({"stores": list(stores), **top}, "test.yaml")
    return info.value.problems


def test_the_example_chain_has_ten_stores_in_at_least_four_zones():
    chain = load_catalogue(EXAMPLE)
    assert len(chain) == 10
    assert len({s.timezone for s in chain}) >= 4
    sunday = date(2026, 11, 29)
    assert any(not s.periods(sunday) and any(s.hours[:6]) for s in chain), "one store closed on Sundays"
    assert any(any(b > 1440 for _, b in day) for s in chain for day in s.hours), "one store open past midnight"
    rome = chain.get("rome-centro")
    assert rome.hours[0] == ((510, 1200),) and rome.hours[6] == ((600, 780),)
    assert rome.special_factor(date(2026, 11, 27)) == 2.5 and date(2026, 12, 25) in rome.closed_on
    assert chain.get("la-venice-beach").hours[4] == ((600, 1560),)  # Friday 10:00 until 02:00


def test_the_issue_example_parses():
    doc = yaml.safe_load(textwrap.dedent("""
        stores:
          - id: rome-centro
            name: Roma Centro
            timezone: Europe/Rome
            base_daily_customers: 1400
            daily_variation_pct: 0.2
            profile: seed
            opening_hours:
              mon-fri: "08:30-20:00"
              sat: "09:00-21:00"
              sun: "10:00-13:00"
            closed_on: [2026-12-25, 2027-01-01]
            special_days:
              2026-11-27: 2.5
    """))
    (s,) = catalogue_from_dict(doc).stores
    assert s.name == "Roma Centro" and s.daily_variation_pct == 0.2 and s.profile.name == "seed"
    assert [len(h) for h in s.hours] == [1, 1, 1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("key", "days"),
    [("mon", [0]), ("mon-fri", [0, 1, 2, 3, 4]), ("sat,sun", [5, 6]), ("fri-mon", [0, 4, 5, 6]), ("daily", list(range(7)))],
)
def test_weekday_keys(key, days):
    (s,) = catalogue_from_dict({"stores": [store(opening_hours={key: "10:00-12:00"})]}).stores
    assert [i for i in range(7) if s.hours[i]] == days


def test_periods_lists_adjacent_merge_and_closed_values():
    (s,) = catalogue_from_dict({"stores": [store(opening_hours={
        "mon": ["14:00-18:00", "08:00-12:00"], "tue": ["08:00-12:00", "12:00-18:00"], "wed": "closed", "thu": None,
        "fri": "00:00-24:00", "sat": "22:00-02:00",
    })]}).stores
    assert s.hours[0] == ((480, 720), (840, 1080))
    assert s.hours[1] == ((480, 1080),)
    assert s.hours[2] == () and s.hours[3] == ()
    assert s.hours[4] == ((0, 1440),) and s.hours[5] == ((1320, 1560),)


def test_every_problem_at_once_naming_store_and_field():
    problems = problems_of(
        store(id="Bad_ID"),
        store(id="b", timezone="Europe/Roma"),
        store(id="c", base_daily_customers=0, daily_variation_pct=1.5),
        store(id="d", opening_hours={"mon-fri": "8:30-25:00", "funday": "10:00-11:00"}),
        store(id="e", opening_hours={"mon": ["08:00-12:00", "11:00-13:00"], "mon-tue": "14:00-15:00"}),
        store(id="f", closed_on=["2026-13-01"], special_days={"2026-11-27": -1, "xmas": 2}),
        store(id="g", colour="red", profile="/no/such/profile.yaml"),
        store(id="b"),
        store(id="h", opening_hours={"sat": "22:00-03:00", "sun": "02:00-10:00"}),
        store(id="i", base_daily_customers=None),
        "not a store",
        store(id="j", opening_hours={"mon": "10:00-10:00"}),
    )
    text = "\n".join(problems)
    expected = [
        "stores[0].id='Bad_ID'",
        "store b (stores[1]).timezone: 'Europe/Roma' is not an IANA time zone name",
        "store c.base_daily_customers=0",
        "store c.daily_variation_pct=1.5",
        "store d.opening_hours.mon-fri: '8:30-25:00': closing time",
        "store d.opening_hours.funday: not a weekday",
        "store e.opening_hours.mon: 11:00-13:00 overlaps 08:00-12:00",
        "store e.opening_hours.mon-tue: mon is already given by 'mon'",
        "store f.closed_on: '2026-13-01' is not a date",
        "store f.special_days.2026-11-27=-1",
        "store f.special_days: 'xmas' is not a date",
        "store g.colour: unknown field",
        "store g.profile: /no/such/profile.yaml: cannot be read",
        "store b.id: used twice (stores[1] and stores[7])",
        "store h.opening_hours.sat: open until 03:00 after midnight, but sun opens at 02:00",
        "store i.base_daily_customers: missing",
        "stores[10]: expected a mapping",
        "store j.opening_hours.mon: '10:00-10:00': opens and closes at the same time",
    ]
    for line in expected:
        assert line in text, f"{line!r} not in:\n{text}"
    assert len(problems) == len(expected), text


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "expected a mapping with a 'stores' list"),
        ({"stores": []}, "stores: expected a non-empty list"),
        ({"stores": [store()], "chain": "x"}, "chain: unknown top-level field"),
        ({"stores": [store(opening_hours="08:00-20:00")]}, "store rome-centro.opening_hours: expected a mapping"),
        ({"stores": [store(opening_hours={"mon": "closed"})]}, "store rome-centro.opening_hours: the store is never open"),
        ({"stores": [store(timezone=None)]}, "store rome-centro.timezone: missing"),
        ({"stores": [store(timezone="../../etc/passwd")]}, "is not an IANA time zone name"),
    ],
)
def test_shape_problems(doc, message):
    with pytest.raises(CatalogueError) as info:
        catalogue_from_dict(doc, "x.yaml")
    assert any(message in p for p in info.value.problems), info.value.problems


def test_a_profile_file_relative_to_the_catalogue(tmp_path):
    seed = (ROOT / "include" / "foot_traffic" / "model" / "profiles" / "seed.yaml").read_text()
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mall.yaml").write_text(seed.replace("name: seed", "name: mall"))
    (tmp_path / "chain.yaml").write_text(yaml.safe_dump({"stores": [store(profile="profiles/mall.yaml")]}))
    (s,) = load_catalogue(tmp_path / "chain.yaml").stores
    assert s.profile.name == "mall"


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("stores: [\n")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(tmp_path / "bad.yaml")


def test_stores_file_setting_must_exist(tmp_path):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"STORES_FILE": str(tmp_path / "none.yaml")})
    assert info.value.problems[0].startswith("STORES_FILE=")
    assert Settings.from_env({"STORES_FILE": ""}).stores_file is None
    assert Settings.from_env({}).closing_grace_minutes == 15


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.setblocking(False)
    yield sock
    sock.close()


def test_produce_refuses_a_bad_catalogue_with_exit_2_naming_every_problem(tmp_path, listener, monkeypatch, capsys):
    for var in Settings.env_names():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAFKA_BROKER", "127.0.0.1:%d" % listener.getsockname()[1])
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump({"stores": [store(), store(id="x", timezone="Mars/Olympus"), store(id="y", base_daily_customers=-3)]}))
    assert cli.main(["produce", "--stores", str(path), "--date", "2026-11-27"]) == 2
    err = capsys.readouterr().err
    assert "store x.timezone" in err and "store y.base_daily_customers=-3" in err
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing connected
    monkeypatch.setenv("STORES_FILE", str(path))
    assert cli.main(["preview", "--date", "2026-11-27"]) == 2
    assert "store x.timezone" in capsys.readouterr().err


def test_stores_option_names_itself_when_the_file_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("STORES_FILE", raising=False)
    assert cli.main(["preview", "--stores", str(tmp_path / "nope.yaml")]) == 2
    assert "--stores=" in capsys.readouterr().err


def test_preview_of_the_example_chain(capsys, monkeypatch):
    monkeypatch.setenv("SEED", "7")
    assert cli.main(["preview", "--stores", str(EXAMPLE), "--date", "2026-11-29"]) == 0
    out = capsys.readouterr().out
    assert "10 stores" in out and "berlin-mitte" in out
    berlin = next(line for line in out.splitlines() if "berlin-mitte" in line)
    assert "closed" in berlin and berlin.rstrip().endswith("0 visits")
