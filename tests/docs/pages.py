"""Reading pages of the built site."""

from __future__ import annotations

import html
import re
from pathlib import Path


def page_text(site: Path, page: str) -> str:
    """The visible text of a built page (``reference/cli`` -> site/reference/cli/index.html)."""
    raw = (site / page / "index.html").read_text(encoding="utf-8")
    raw = raw[raw.index('<article'):raw.index('</article>')]
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def page_html(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")
