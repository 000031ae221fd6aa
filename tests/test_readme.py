"""The Python examples of README.md and docs/*.md run as written, each block on its own
(those whose libraries are installed)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    (f"{doc.relative_to(ROOT)} block {i}", code)
    for doc in DOCS
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), re.S))
]


@pytest.mark.parametrize("name, code", BLOCKS, ids=[name for name, _ in BLOCKS])
def test_readme_example(name, code):
    needed = set(re.findall(r"^from (\w+)", code, re.M))
    for line in re.findall(r"^import (.*)$", code, re.M):
        needed |= {part.split()[0].split(".")[0] for part in line.split("#")[0].split(",")}
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
    exec(compile(code, name, "exec"), ns)
