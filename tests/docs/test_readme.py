"""The README is the front door: short, the broker quickstart early, CI's test command, and
every link in it leading somewhere (files in the repository, headings in the built site)."""

from __future__ import annotations

import re

from tests.docs.conftest import ROOT
from tests.docs.pages import page_html

README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_fits_on_a_few_screens():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; at most 300 (the rest belongs in docs/)"
    first = "\n".join(lines[:150])
    assert "make broker" in first and "KAFKA_BROKER=127.0.0.1:19092" in first
    for command in ("make run", "make airflow", "make test", "make test-fast", "make docs"):
        assert command in README.read_text(encoding="utf-8"), command


def test_every_link_of_the_readme_resolves(built_site):
    text = README.read_text(encoding="utf-8")
    links = [link for link in LINK.findall(text) if not link.startswith(("http://", "https://"))]
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        path, _, anchor = link.partition("#")
        assert (ROOT / path).exists(), f"README links to {path}, which does not exist"
        if anchor:
            assert path.startswith("docs/") and path.endswith(".md"), link
            page = path.removeprefix("docs/").removesuffix(".md")
            assert f'id="{anchor}"' in page_html(built_site, page), f"README links to {link}: no such heading"
