"""``foot-traffic fit`` as a person runs it: the profile and chart it writes, its JSON, and
bad input refused with exit 2 and a message that names the problem (nothing written)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from foot_traffic import cli
from foot_traffic.model.profile import load_profile
from tests.support.anchors import calit2


def good_csv(path, weeks=3, start=datetime(2025, 3, 3)):
    lines = ["timestamp,in,out"]
    for k in range(weeks * 7 * 24):
        t = start + timedelta(hours=k)
        busy = 8 <= t.hour < 20
        lines.append(f"{t:%Y-%m-%d %H:%M},{(10 + t.weekday()) if busy else 0},{(10 + t.weekday()) if busy else 0}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_calit2_fit_writes_a_profile_and_a_chart_through_the_real_command(tmp_path):
    data = calit2()
    out, chart = tmp_path / "calit2.yaml", tmp_path / "fit.png"
    run = subprocess.run(
        [sys.executable, "-m", "foot_traffic", "fit", str(data), "--out", str(out), "--chart", str(chart)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "101 days used" in run.stdout and "round trip" in run.stdout
    assert "every figure within its tolerance" in run.stdout and "outside" not in run.stdout
    assert f"FOOT_TRAFFIC_PROFILE={out} BASE_DAILY_CUSTOMERS=184 foot-traffic produce" in run.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 50_000
    profile = load_profile(out)
    assert profile.name == "calit2" and profile.model is not None


def test_json_output_holds_the_fit_and_the_round_trip(tmp_path, capsys):
    data = calit2()
    code = cli.main(["fit", str(data), "--out", str(tmp_path / "c.yaml"), "--json", "--weeks", "8"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["days_used"] == 101 and doc["format"] == "calit2" and doc["profile"] == str(tmp_path / "c.yaml")
    assert doc["round_trip"]["weeks"] == 8 and doc["round_trip"]["failures"] == []
    assert set(doc["round_trip"]["weekday_index"]) == {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                                       "Saturday", "Sunday"}


def test_a_csv_fit_with_options(tmp_path, capsys):
    code = cli.main([
        "fit", str(good_csv(tmp_path / "c.csv", weeks=5)), "--out", str(tmp_path / "shop.yaml"), "--name", "shop",
        "--timezone", "Europe/Berlin", "--exclude-days", "2025-03-04,2025-03-11", "--min-days", "3", "-q",
    ])
    assert code == 0 and capsys.readouterr().out == ""
    profile = load_profile(tmp_path / "shop.yaml")
    text = (tmp_path / "shop.yaml").read_text()
    assert profile.name == "shop" and "timezone: Europe/Berlin" in text and "'2025-03-11'" in text
    assert profile.weekday_factor("Sunday") > profile.weekday_factor("Monday")  # 16 vs 10 per busy hour


@pytest.mark.parametrize(
    "make, args, message",
    [
        (None, ["--out", "p.yaml"], "nope.csv: cannot be read (No such file or directory)"),
        ("columns", ["--out", "p.yaml"], "no timestamp column"),
        ("negative", ["--out", "p.yaml"], "c.csv:4: in: -3 is negative"),
        ("gap", ["--out", "p.yaml"], "2025-03-05 (Wednesday): 1 bin(s) missing: 10:00–11:00"),
        ("good", ["--out", "p.txt"], "--out p.txt: must end in .yaml or .yml"),
        ("good", ["--out", "missing/p.yaml"], "the directory"),
        ("good", ["--out", "p.yaml", "--timezone", "Europe/Nowhere"], "--timezone 'Europe/Nowhere': not an IANA time zone"),
        ("good", ["--out", "p.yaml", "--bin-minutes", "7"], "--bin-minutes 7: must divide a day"),
        ("good", ["--out", "p.yaml", "--exclude-days", "tomorrow"], "'tomorrow' is not a date"),
        ("good", ["--out", "p.yaml", "--chart", "fit.jpg"], "--chart fit.jpg: must end in .png"),
        ("good", ["--out", "p.yaml", "--outlier-z", "0"], "--outlier-z 0.0: must be a number > 0"),
        ("weekdays_only", ["--out", "p.yaml"], "too few Saturday/Sunday days: 0"),
    ],
)
def test_bad_input_exits_2_naming_the_problem_and_writes_nothing(tmp_path, monkeypatch, capsys, make, args, message):
    monkeypatch.chdir(tmp_path)
    counts = tmp_path / ("nope.csv" if make is None else "c.csv")
    if make == "columns":
        counts.write_text("when,visitors,leavers\n2025-03-03 00:00,1,1\n")
    elif make == "negative":
        good_csv(counts)
        lines = counts.read_text().splitlines()
        lines[3] = lines[3].rsplit(",", 2)[0] + ",-3,0"
        counts.write_text("\n".join(lines) + "\n")
    elif make == "gap":
        good_csv(counts)
        counts.write_text("\n".join(l for l in counts.read_text().splitlines() if not l.startswith("2025-03-05 10:00")) + "\n")
    elif make == "weekdays_only":
        good_csv(counts)
        counts.write_text("\n".join(
            l for l in counts.read_text().splitlines()
            if l.startswith("timestamp") or datetime.fromisoformat(l.split(",")[0]).weekday() < 5) + "\n")
        args = args + ["--exclude-days", "2025-03-08,2025-03-09,2025-03-15,2025-03-16,2025-03-22,2025-03-23"]
    elif make == "good":
        good_csv(counts)
    code = cli.main(["fit", str(counts), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert "foot-traffic fit: cannot fit these counts:" in err and message in err, err
    assert not (tmp_path / "p.yaml").exists()


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["fit", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--exclude-days" in text and "CalIt2" in text
