"""The Dockerfile read as data, for the tests that check it or replay parts of it natively.

No Docker engine runs on the development machines: the deploy tests parse the Dockerfile
(instructions, heredoc files, ENV, COPY sources and destinations, the pip install command)
and replay what can be replayed without one: the file layout, the launcher scripts and the
pip install on top of an environment built like the official image.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"

# What the official apache/airflow image itself sets (its Dockerfile's ENV lines); our
# Dockerfile builds on it and may use them (${AIRFLOW_VERSION} in the pip install).
OFFICIAL_IMAGE_HOME = "/opt/airflow"


@dataclass
class Instruction:
    keyword: str
    args: str
    heredocs: list[str] = field(default_factory=list)

    def words(self) -> list[str]:
        return shlex.split(self.args)


def parse(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and heredoc bodies (<<EOF ... EOF) attached."""
    lines = text.splitlines()
    out: list[Instruction] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.rstrip().endswith("\\") and i < len(lines):
            line = line.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
        keyword, _, args = line.strip().partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        for marker in re.findall(r"<<-?['\"]?(\w+)['\"]?", args):
            body = []
            while i < len(lines) and lines[i].strip() != marker:
                body.append(lines[i])
                i += 1
            i += 1  # the closing marker
            instruction.heredocs.append("\n".join(body) + "\n")
        out.append(instruction)
    return out


def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


def of(keyword: str) -> list[Instruction]:
    return [ins for ins in instructions() if ins.keyword == keyword]


def base_image() -> tuple[str, str, str]:
    """(repository, Airflow version, Python tag) of the FROM line, e.g. apache/airflow:3.3.2-python3.11."""
    (base,) = of("FROM")
    match = re.fullmatch(r"(?P<repo>[\w./-]+):(?P<version>\d+\.\d+\.\d+)-(?P<python>python\d+\.\d+)", base.args)
    assert match, f"FROM {base.args}: expected <repository>:<airflow version>-python<X.Y>"
    return match["repo"], match["version"], match["python"]


def pinned(package: str, path: Path | None = None) -> str:
    for line in (path or ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(rf"^{re.escape(package)}==([\w.]+)\s*(#.*)?$", line.strip())
        if match:
            return match[1]
    raise AssertionError(f"{package} is not pinned in requirements.txt")


def copies() -> list[tuple[list[str], str, Instruction]]:
    """(sources, destination, instruction) of each COPY from the build context."""
    out = []
    for ins in of("COPY"):
        words = [w for w in ins.words() if not w.startswith("--")]
        if ins.heredocs or any(w.startswith("--from") for w in ins.words()):
            continue
        out.append((words[:-1], words[-1], ins))
    return out


def heredoc_files() -> dict[str, str]:
    """Files the Dockerfile writes with COPY <<EOF: destination -> content."""
    files = {}
    for ins in of("COPY"):
        if ins.heredocs:
            files[ins.words()[-1]] = ins.heredocs[0]
    return files


def env_vars() -> dict[str, str]:
    env = {}
    for ins in of("ENV"):
        for word in ins.words():
            key, _, value = word.partition("=")
            env[key] = value
    return env


def pip_install_commands() -> list[str]:
    """The shell text of every RUN that runs pip install (shell form), in order."""
    return [ins.args for ins in of("RUN") if re.search(r"\bpip install\b", ins.args)]


def requirements_destination() -> str:
    """Where the Dockerfile copies requirements.txt in the image."""
    for sources, dest, _ins in copies():
        if sources == ["requirements.txt"]:
            return dest
    raise AssertionError("the Dockerfile does not COPY requirements.txt")


def entrypoint_wrapper() -> str:
    """Path (in the image) of the script the ENTRYPOINT runs after dumb-init."""
    (entrypoint,) = of("ENTRYPOINT")
    words = eval(entrypoint.args)  # JSON array form  # noqa: S307 - our own Dockerfile
    return words[2]


def replay_layout(root: Path) -> Path:
    """Apply the Dockerfile's COPY instructions to ``root``, a folder standing for the image's
    file system, and write its heredoc files there (executable). Returns ``root``."""
    for sources, dest, _ins in copies():
        for source in sources:
            target = root / dest.lstrip("/")
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
            else:
                target = target / src.name if dest.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
    for dest, content in heredoc_files().items():
        path = root / dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o755)
    return root


def image_path(root: Path, value: str) -> str:
    """An ENV value with its absolute paths (``:``-separated) moved under ``root``."""
    return ":".join(str(root / p.lstrip("/")) if p.startswith("/") else p for p in value.split(":"))
