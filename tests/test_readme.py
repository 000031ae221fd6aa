"""The README's Python examples run as written (those whose libraries are installed)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example(i):
    code = BLOCKS[i]
    needed = set(re.findall(r"^from (\w+)", code, re.M))
    for line in re.findall(r"^import (.*)$", code, re.M):
        needed |= {part.split()[0].split(".")[0] for part in line.split(",")}
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {missing}")
    if "cupy" in needed:
        import cupy

        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                pytest.skip("no GPU")
        except Exception:
            pytest.skip("no GPU")
    ns: dict = {}
    exec(compile(code, f"README block {i}", "exec"), ns)
