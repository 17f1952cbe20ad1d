"""Debian's ``chromium`` for the browser tests: found, or installed with apt-get when missing.

CI runs as root on a fresh machine: the first browser test installs the package
(``apt-get update`` once, then ``apt-get install -y chromium``). Where it cannot be
installed (not root, no apt-get, no package source), the caller skips with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.support.cdp import find_chromium

PACKAGES = ["chromium", "fonts-dejavu-core"]


def ensure_chromium(timeout: float = 900.0) -> tuple[str | None, str]:
    """``(path, "")`` when chromium is (now) installed, else ``(None, why not)``."""
    found = find_chromium()
    if found:
        return found, ""
    if not shutil.which("apt-get"):
        return None, "chromium is not installed and there is no apt-get to install it (Debian package 'chromium')"
    if os.geteuid() != 0:
        return None, "chromium is not installed and installing it needs root (apt-get install -y chromium)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]]
    for command in steps:
        try:
            proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"{' '.join(command)} did not finish within {timeout:g} s"
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            return None, f"{' '.join(command)} failed ({proc.returncode}): " + " | ".join(tail)
    found = find_chromium()
    return (found, "") if found else (None, "apt-get installed chromium but no chromium binary is on PATH")
