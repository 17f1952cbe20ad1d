"""The documentation site builds with ``--strict`` and its generated reference pages are
complete: every setting, every DAG's every Param, every subcommand and flag.

The expectations come from the code by other routes than the generator's: the settings
from ``Settings.model_fields`` and the trigger forms' fields (``foot_traffic_airflow.params``), the flags from each
subcommand's own ``--help`` usage line."""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest

from foot_traffic.cli import build_parser
from foot_traffic.settings import Settings
from foot_traffic_airflow.params import CHAIN_DAG, STORE_DAG, form_fields, param_name
from foot_traffic_airflow.chain import CHAIN_DAG_ENV
from tests.docs.conftest import ROOT
from tests.docs.pages import page_html, page_text

NAV_PAGES = [
    "getting-started", "producer", "airflow", "ui-plugin", "chains", "traffic-model", "fit", "docker", "topics",
    "reference/settings", "reference/cli", "guarantees", "benchmarks", "design", "verification", "contributing",
]


def section(site, page: str, anchor: str, *, tables_only: bool = False) -> str:
    """The text of a page from the heading with id ``anchor`` to the next heading of its
    level (``tables_only``: only the tables in it, not the prose or examples)."""
    raw = page_html(site, page)
    match = re.search(rf'<h([23]) id="{re.escape(anchor)}"', raw)
    assert match, f"{page}: no heading #{anchor}"
    end = raw.find(f"<h{match[1]} ", match.end())
    body = raw[match.start():end if end > 0 else len(raw)]
    if tables_only:
        body = " ".join(re.findall(r"<table>.*?</table>", body, re.S))
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_every_page_of_the_nav_is_built(built_site):
    assert (built_site / "index.html").is_file()
    for page in NAV_PAGES:
        assert (built_site / page / "index.html").is_file(), page


def test_the_settings_reference_lists_every_setting_and_variable(built_site):
    text = page_text(built_site, "reference/settings")
    variables = section(built_site, "reference/settings", "environment-variables", tables_only=True)
    for name, field in Settings.model_fields.items():
        assert field.alias in variables, f"{field.alias} ({name}) is missing from the reference"
        assert " ".join((field.description or "").split()) in " ".join(variables.split()), f"{field.alias}: description"
    for variable in CHAIN_DAG_ENV:
        assert variable in text


@pytest.mark.parametrize("dag_id, dag", [("foot_traffic_daily", STORE_DAG), ("foot_traffic_demo", STORE_DAG),
                                         ("foot_traffic_chain_daily", CHAIN_DAG)])
def test_the_settings_reference_lists_every_param_of_every_dag(built_site, dag_id, dag):
    text = section(built_site, "reference/settings", dag_id, tables_only=True)
    for param in (param_name(f) for f in form_fields(dag)):
        assert re.search(rf"\b{param}\b", text), f"{dag_id}: Param {param} is missing"
    if dag_id == "foot_traffic_chain_daily":
        assert "shard_size" in text  # declared in the DAG file, not in Settings
    if dag_id == "foot_traffic_demo":
        assert re.search(r"\bday\b", text)


def _usage_flags(*command: str) -> set[str]:
    done = subprocess.run([sys.executable, "-m", "foot_traffic", *command, "--help"], capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": ""}, cwd=ROOT, check=True)
    usage = done.stdout.split("\n\n")[0]
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", usage)) - {"-h"}


def test_the_cli_reference_lists_every_subcommand_and_flag(built_site):
    parser = build_parser()
    (commands,) = [a.choices for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    assert {"produce", "preview", "validate", "fit"} <= set(commands)
    top = section(built_site, "reference/cli", "foot-traffic", tables_only=True)
    for flag in _usage_flags():
        assert flag in top, f"foot-traffic {flag} is missing"
    for name in commands:
        text = section(built_site, "reference/cli", f"foot-traffic-{name}", tables_only=True)
        flags = _usage_flags(name)
        assert flags, name
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), f"foot-traffic {name} {flag} is missing"


def test_the_performance_page_includes_benchmarks_md(built_site):
    text = " ".join(page_text(built_site, "benchmarks").split())
    benchmarks = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    first_row = next(line for line in benchmarks.splitlines() if line.startswith("| ours"))
    first_cell = first_row.split("|")[1].strip().replace("`", "")
    for heading in re.findall(r"^## (.+)$", benchmarks, re.M):
        assert heading.replace("`", "") in text, heading
    assert first_cell in text
