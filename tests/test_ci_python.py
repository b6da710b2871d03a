"""`.ci/run` runs README's commands with the distribution's own python3 (Debian 12: /usr/bin/python3,
3.11.2), never a newer one that comes first on PATH: that is how 3.11.4's extractall(filter=) once
passed CI and failed on a fresh machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _distro_version() -> str:
    return subprocess.run(["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_newer_python3_first_on_path_is_not_the_one_readme_commands_get(tmp_path: Path) -> None:
    fake = tmp_path / "pyenv-shims"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho 3.99.0\n")
    (fake / "python3").chmod(0o755)
    script = (f". {ROOT / '.ci' / 'distro-python.sh'} && check_distro_python && command -v python3 && "
              "python3 -c 'import platform; print(platform.python_version())'")
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines[-2] == "/usr/bin/python3"
    assert lines[-1] == _distro_version() != "3.99.0"


def test_ci_run_picks_the_distribution_python_before_readme_commands() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    source = text.index(". .ci/distro-python.sh")
    check = text.index("check_distro_python")
    first_python = text.index("python3 -c")
    demo = text.index("bash examples/demo.sh")
    install = text.index("python3 -m venv .venv")
    assert source < first_python < check < demo < install
    assert "EXTERNALLY-MANAGED" in text  # the PEP 668 check stays
    assert "venv_version" in text[install:]  # an old .venv of another Python is refused, not reused


def test_the_tree_compiles_and_installs_on_the_distribution_python() -> None:
    """Syntax newer than the distribution's python3 (3.12's nested f-string quotes) fails here."""
    out = subprocess.run(["/usr/bin/python3", "-m", "compileall", "-q", "supervisor", "tests", "bench",
                          "examples"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": "/tmp/pycache-ci"})
    assert out.returncode == 0, out.stdout + out.stderr
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
