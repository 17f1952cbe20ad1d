"""Reading door counts: both readers, time and bins, and every kind of bad input named."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from foot_traffic.analysis.fit.counts import CountsError, parse_exclude
from foot_traffic.analysis.fit.readers import detect_format, read_counts


def write_csv(path: Path, rows, header="timestamp,in,out", *, start=datetime(2025, 3, 3), minutes=60) -> Path:
    """``rows``: (ins, outs) per bin from ``start``, or full text lines when given strings."""
    lines = [header]
    for k, row in enumerate(rows):
        if isinstance(row, str):
            lines.append(row)
        else:
            when = start + timedelta(minutes=minutes * k)
            lines.append(f"{when:%Y-%m-%d %H:%M},{row[0]},{row[1]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def days(n, minutes=60, ins=3, outs=3):
    return [(ins, outs)] * (n * 24 * 60 // minutes)


def problems(excinfo) -> str:
    return "\n".join(excinfo.value.problems)


# --- what goes right --------------------------------------------------------------------


def test_hourly_csv_gives_whole_days_and_the_inferred_bin(tmp_path):
    counts = read_counts(write_csv(tmp_path / "c.csv", days(14)))
    assert counts.bin_seconds == 3600 and counts.bins_per_day == 24
    assert len(counts.days) == 14 and counts.days[0].day == date(2025, 3, 3)
    assert counts.days[0].ins == (3,) * 24 and counts.days[0].total_out == 72
    assert counts.format == "csv" and len(counts.sha256) == 64


def test_fifteen_minute_bins_are_inferred(tmp_path):
    counts = read_counts(write_csv(tmp_path / "c.csv", days(7, 15), minutes=15))
    assert counts.bin_seconds == 900 and len(counts.days[0].ins) == 96


def test_column_names_are_found_by_name_any_case_and_separator(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Store;Entries;Datetime;Exits\n" + "".join(
        f"A;{k % 5};2025-03-03T{k:02d}:00:00;{k % 3}\n" for k in range(24)) + "".join(
        f"A;1;2025-03-04T{k:02d}:00:00;1\n" for k in range(24)), encoding="utf-8")
    counts = read_counts(path)
    assert counts.days[0].ins == tuple(k % 5 for k in range(24))
    assert counts.days[0].outs == tuple(k % 3 for k in range(24))


def test_separate_date_and_time_columns_are_joined(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Date,Time,In,Out\n" + "".join(
        f"2025-03-0{3 + k // 24},{k % 24:02d}:00,{k},1\n" for k in range(48)), encoding="utf-8")
    counts = read_counts(path)
    assert [d.day for d in counts.days] == [date(2025, 3, 3), date(2025, 3, 4)] and counts.days[1].ins[0] == 24


def test_bin_label_end_moves_each_count_to_the_bin_before(tmp_path):
    rows = [(k, 0) for k in range(48)]  # stamped 00:00 .. 47:00 = bins ending then
    path = write_csv(tmp_path / "c.csv", rows, start=datetime(2025, 3, 3, 1))
    counts = read_counts(path, bin_label="end")
    assert counts.days[0].day == date(2025, 3, 3) and counts.days[0].ins[0] == 0 and counts.days[0].ins[23] == 23


def test_partial_first_and_last_days_are_dropped_and_said(tmp_path):
    path = write_csv(tmp_path / "c.csv", [(1, 1)] * (24 * 3 + 5), start=datetime(2025, 3, 2, 19))
    counts = read_counts(path)
    assert [d.day for d in counts.days] == [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)]
    assert [d for d, _ in counts.dropped] == [date(2025, 3, 2)]  # 19:00-23:59 only
    assert "5 of 24 bins (the data start mid-day)" in counts.dropped[0][1]


def test_excluded_days_are_left_out_even_with_gaps(tmp_path):
    rows = days(7)
    del rows[24 + 10]  # Tuesday 10:00 missing
    counts = read_counts(write_csv(tmp_path / "c.csv", rows), exclude=[date(2025, 3, 4), date(2030, 1, 1)])
    assert date(2025, 3, 4) not in [d.day for d in counts.days] and counts.excluded == (date(2025, 3, 4),)
    assert any("not in the data: 2030-01-01" in n for n in counts.notes)


def test_a_dst_day_with_a_timezone_has_no_gap_and_the_repeated_hour_is_added(tmp_path):
    start = datetime(2025, 3, 29)
    lines = []
    t = start
    while t < datetime(2025, 4, 1):
        if not (t.date() == date(2025, 3, 30) and t.hour == 2):  # Europe/Berlin skips 02:00-02:59
            lines.append(f"{t:%Y-%m-%d %H:%M},2,2")
        t += timedelta(hours=1)
    counts = read_counts(write_csv(tmp_path / "spring.csv", lines), timezone="Europe/Berlin")
    assert [d.day for d in counts.days] == [date(2025, 3, 29), date(2025, 3, 30), date(2025, 3, 31)]
    assert counts.days[1].ins[2] == 0 and any("DST" in n for n in counts.notes)

    lines = [f"2025-10-26 {h:02d}:00,1,1" for h in range(24)] + ["2025-10-26 02:00,5,5"]  # 02:00 twice
    lines += [f"2025-10-27 {h:02d}:00,1,1" for h in range(24)]
    counts = read_counts(write_csv(tmp_path / "fall.csv", lines), timezone="Europe/Berlin")
    assert counts.days[0].ins[2] == 6 and any("repeated" in n for n in counts.notes)


def test_aware_timestamps_are_converted_to_the_stores_zone(tmp_path):
    lines = [f"{(datetime(2025, 3, 3, 0) + timedelta(hours=k)):%Y-%m-%dT%H:%M}:00Z,{k % 24},0" for k in range(48)]
    counts = read_counts(write_csv(tmp_path / "c.csv", lines[:48]), timezone="America/New_York")
    # 00:00Z is 19:00 the day before in New York (EST, -05:00): that day is partial, dropped
    assert counts.days[0].day == date(2025, 3, 3) and counts.days[0].ins[0] == 5  # 05:00Z = 00:00 local


def test_calit2_format_is_recognised_and_read(tmp_path):
    lines = []
    t = datetime(2005, 7, 24, 0, 30)
    for k in range(48 * 2):
        lines.append(f"7,{t:%m/%d/%y},{t:%H:%M:%S},{k % 4}")
        lines.append(f"9,{t:%m/%d/%y},{t:%H:%M:%S},{k % 5}")
        t += timedelta(minutes=30)
    path = tmp_path / "C.data"
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path) == "calit2"
    counts = read_counts(path, format="auto")
    assert counts.format == "calit2" and counts.bin_seconds == 1800
    # the row stamped 00:30 covers 00:00-00:30: bin 0 of 07-24
    assert counts.days[0].day == date(2005, 7, 24) and counts.days[0].ins[:3] == (0, 1, 2)
    assert counts.days[0].outs[:3] == (0, 1, 2) and counts.days[0].ins[4] == 4


def test_exclude_days_from_a_file_or_a_list(tmp_path):
    events = tmp_path / "events"
    events.write_text("# holidays\n07/26/05,11:00:00,14:00:00,10; event\n2005-08-02 staff party\n\n")
    assert parse_exclude(str(events)) == [date(2005, 7, 26), date(2005, 8, 2)]
    assert parse_exclude("2025-12-24, 2025-12-26") == [date(2025, 12, 24), date(2025, 12, 26)]


# --- bad input: each named ----------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CountsError) as err:
        read_counts(tmp_path / "nope.csv")
    assert "nope.csv: cannot be read (No such file or directory)" in problems(err)


def test_a_directory_or_binary_or_empty_file_is_named(tmp_path):
    with pytest.raises(CountsError, match="is a directory"):
        read_counts(tmp_path)
    (tmp_path / "b.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(CountsError, match="not UTF-8 text"):
        read_counts(tmp_path / "b.csv")
    (tmp_path / "e.csv").write_text("\n\n")
    with pytest.raises(CountsError, match="is empty"):
        read_counts(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("timestamp,in,out\n")
    with pytest.raises(CountsError, match="a header but no rows"):
        read_counts(tmp_path / "h.csv")


def test_unknown_columns_are_named_with_the_columns_there_are(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["2025-03-03 00:00,1,1"], header="when,visitors,leavers")
    with pytest.raises(CountsError) as err:
        read_counts(path)
    text = problems(err)
    assert "no timestamp column" in text and "no in-count column" in text and "no out-count column" in text
    assert "'when', 'visitors', 'leavers'" in text and "--time-column" in text
    with pytest.raises(CountsError, match="--in-column 'entries': no such column"):
        read_counts(path, time_column="when", in_column="entries", out_column="leavers")


def test_bad_values_are_listed_with_their_lines_all_at_once(tmp_path):
    rows = days(2)
    rows[3] = "2025-03-03 03:00,-4,1"
    rows[5] = "2025-03-03 05:00,two,1"
    rows[7] = "03.03.2025 07:00,1,1"
    rows[9] = "2025-03-03 09:00,1.5,1"
    with pytest.raises(CountsError) as err:
        read_counts(write_csv(tmp_path / "c.csv", rows))
    text = problems(err)
    assert "c.csv:5: in: -4 is negative; counts must be whole numbers >= 0" in text
    assert "c.csv:7: in: 'two' is not a count" in text
    assert "c.csv:9: timestamp '03.03.2025 07:00' is not ISO 8601" in text and "--time-format" in text
    assert "c.csv:11: in: '1.5' is not a count" in text


def test_many_bad_lines_are_summarised(tmp_path):
    rows = [f"2025-03-03 {h:02d}:00,-1,0" for h in range(24)]
    with pytest.raises(CountsError) as err:
        read_counts(write_csv(tmp_path / "c.csv", rows))
    assert len(err.value.problems) == 9 and "... and 16 more like these" in err.value.problems[-1]


def test_gaps_are_refused_naming_the_day_and_the_time(tmp_path):
    lines = []  # a week, Wednesday 09:00-12:00 and all of Friday missing
    t = datetime(2025, 3, 3)
    for k in range(24 * 7):
        when = t + timedelta(hours=k)
        if when.date() == date(2025, 3, 5) and 9 <= when.hour < 12:
            continue
        if when.date() == date(2025, 3, 7):
            continue
        lines.append(f"{when:%Y-%m-%d %H:%M},1,1")
    with pytest.raises(CountsError) as err:
        read_counts(write_csv(tmp_path / "c.csv", lines))
    text = problems(err)
    assert "gaps in the counts" in text
    assert "2025-03-05 (Wednesday): 3 bin(s) missing: 09:00–12:00" in text
    assert "2025-03-07 (Friday): no counts at all" in text
    assert "--exclude-days" in text and "give --timezone" in text


def test_a_bin_counted_twice_is_refused(tmp_path):
    rows = [f"2025-03-03 {h:02d}:00,1,1" for h in range(24)] + ["2025-03-03 05:00,2,2"]
    with pytest.raises(CountsError, match=r"c.csv:26: the bin starting 2025-03-03 05:00 is counted twice \(first on line 7\)"):
        read_counts(write_csv(tmp_path / "c.csv", rows))


def test_timestamps_off_the_grid_are_refused(tmp_path):
    rows = [f"2025-03-03 {h:02d}:00,1,1" for h in range(24)]
    rows[4] = "2025-03-03 04:07,1,1"
    with pytest.raises(CountsError, match="bin start 2025-03-03 04:07:00 is not on the 60-minute grid"):
        read_counts(write_csv(tmp_path / "c.csv", rows))
    with pytest.raises(CountsError, match="not on the 45-minute grid"):
        read_counts(write_csv(tmp_path / "d.csv", days(2)), bin_minutes=45)


@pytest.mark.parametrize("bad", [7, 0, 1441, 25])
def test_a_bin_width_that_does_not_divide_the_day_is_refused(tmp_path, bad):
    with pytest.raises(CountsError, match=f"--bin-minutes {bad}: must divide a day"):
        read_counts(write_csv(tmp_path / "c.csv", days(2)), bin_minutes=bad)


def test_a_bad_timezone_and_bad_options_are_named(tmp_path):
    path = write_csv(tmp_path / "c.csv", days(2))
    with pytest.raises(CountsError, match="--timezone 'Mars/Olympus': not an IANA time zone"):
        read_counts(path, timezone="Mars/Olympus")
    with pytest.raises(CountsError, match="--format 'xls'"):
        read_counts(path, format="xls")
    with pytest.raises(CountsError, match="--bin-label 'middle'"):
        read_counts(path, bin_label="middle")


def test_calit2_problems_are_named(tmp_path):
    path = tmp_path / "C.data"
    path.write_text("9,07/24/05,00:30:00,1\n8,07/24/05,00:30:00,1\n9,07/24/05,01:00:00,-2\n9,13/40/05,01:00:00,1\nnonsense\n")
    with pytest.raises(CountsError) as err:
        read_counts(path, format="calit2")
    text = problems(err)
    assert "C.data:2: flow '8' is neither 7 (out) nor 9 (in)" in text
    assert "C.data:3: count: -2 is negative" in text
    assert "C.data:4: 13/40/05 01:00:00 is not MM/DD/YY HH:MM:SS" in text
    assert "C.data:5: 'nonsense' is not flow,MM/DD/YY,HH:MM:SS,count" in text
    path.write_text("9,07/24/05,00:30:00,1\n7,07/24/05,00:30:00,1\n9,07/24/05,01:00:00,1\n")
    with pytest.raises(CountsError, match=r"C.data:3: 07/24/05 01:00:00 has no out \(7\) row"):
        read_counts(path, format="calit2")
    with pytest.raises(CountsError, match="--bin-label start: the CalIt2 format's timestamps end their bin"):
        read_counts(path, format="calit2", bin_label="start")


def test_bad_exclude_days_are_named(tmp_path):
    with pytest.raises(CountsError, match="'Christmas' is not a date; expected a file of dates or a comma-separated list"):
        parse_exclude("2025-12-24,Christmas")
    bad = tmp_path / "days.txt"
    bad.write_text("2025-12-24\nsoon\n")
    with pytest.raises(CountsError, match=r"days.txt:2: 'soon' is not a date"):
        parse_exclude(str(bad))
