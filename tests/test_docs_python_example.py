"""docs/compose.md's Python API example runs as shown, in an upstream example team."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import FakeBin, copy_example

DOC = Path(__file__).parent.parent / "docs" / "compose.md"


def test_the_python_api_example_runs(tmp_path: Path, fake_bin: FakeBin) -> None:
    text = DOC.read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    code += "\nprint(dev.id, [a.id for a in team.select(['hello'])], [h.name for h in team.hook_chain(dev)])\n"
    root = copy_example("hello-team", tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TEAMCTL_ROOT"}
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("[")[0].strip() == "hello:dev" and "'hello:manager', 'hello:dev'" in done.stdout
