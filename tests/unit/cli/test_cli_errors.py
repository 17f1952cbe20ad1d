"""``foot-traffic``'s own errors, before anything connects: one clear message naming the
setting (or flag), the value and what is accepted; exit code 2."""

from __future__ import annotations

import pytest

from foot_traffic import cli
from foot_traffic.cli.exits import EXIT_SIGINT, EXIT_SIGTERM
from foot_traffic.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for var in [*Settings.env_names(), "LOG_LEVEL"]:
        monkeypatch.delenv(var, raising=False)


def test_an_unknown_log_level_in_the_environment_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    assert cli.main(["preview", "--date", "2025-11-07"]) == 2
    err = capsys.readouterr().err
    assert "LOG_LEVEL='LOUD'" in err and "DEBUG, INFO, WARNING, ERROR" in err


def test_an_unknown_log_level_flag_is_refused_by_its_name(monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "debug")  # the flag wins, and it is the one named
    assert cli.main(["produce", "--log-level", "chatty", "--date", "2025-11-07"]) == 2
    assert "--log-level='chatty'" in capsys.readouterr().err


@pytest.mark.parametrize("level", ["debug", "Warning", " ERROR "])
def test_log_levels_are_accepted_in_any_case(level, monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", level)
    assert cli.main(["preview", "--date", "2025-11-07"]) == 0


def test_stores_given_a_directory_says_it_is_a_directory(tmp_path, capsys):
    assert cli.main(["preview", "--stores", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--stores='{tmp_path}': is a directory" in err and "no such file" not in err


@pytest.mark.parametrize("variable", ["STORES_FILE", "FOOT_TRAFFIC_PROFILE"])
def test_a_directory_in_a_file_setting_says_it_is_a_directory(variable, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(variable, str(tmp_path))
    assert cli.main(["preview"]) == 2
    assert f"{variable}='{tmp_path}': is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("variable", ["STORES_FILE", "FOOT_TRAFFIC_PROFILE"])
def test_a_yaml_error_names_the_file_and_its_line(variable, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("stores:\n  - id: a\n   bad: [\n", encoding="utf-8")
    monkeypatch.setenv(variable, str(bad))
    assert cli.main(["preview"]) == 2
    err = capsys.readouterr().err
    assert f'in "{bad}", line' in err and "<unicode string>" not in err


def test_the_help_documents_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        cli.main(["produce", "--help"])
    out = capsys.readouterr().out
    for code in ("0", "1", "2", "3", str(EXIT_SIGINT), str(EXIT_SIGTERM)):
        assert any(line.strip().startswith(code + " ") for line in out.splitlines()), code
    assert "make broker" in out and "127.0.0.1:19092" in out and "SIGTERM" in out
