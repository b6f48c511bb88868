"""``detectors._lazy.LazyModule``: nothing imported until the first attribute read, then the real
module's attributes; two threads reading first at once run the module once (a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import builtins, json, sys, threading
from detectors._lazy import LazyModule
probe = LazyModule("startup_lazy_probe")
before = "startup_lazy_probe" in sys.modules
barrier = threading.Barrier(8)
values = []
def first_read():
    barrier.wait()
    values.append(probe.VALUE)
threads = [threading.Thread(target=first_read) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
real = sys.modules["startup_lazy_probe"]
try:
    raise real.ProbeError("x")
except probe.ProbeError:
    caught = True
print(json.dumps({"before": before, "values": len(values), "one_object": all(v is real.VALUE for v in values), "runs": builtins.STARTUP_LAZY_RUNS,
                  "same": probe.VALUE is real.VALUE, "caught": caught}))
"""

MODULE = """
import builtins, time
builtins.STARTUP_LAZY_RUNS = getattr(builtins, "STARTUP_LAZY_RUNS", 0) + 1
time.sleep(0.3)  # a slow import: the other threads arrive while it runs
VALUE = object()  # a module run twice would give two different objects
class ProbeError(Exception):
    pass
"""


def test_lazy_module_imports_once_on_first_use(tmp_path: Path) -> None:
    (tmp_path / "startup_lazy_probe.py").write_text(MODULE)
    env_path = str(tmp_path)
    res = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r})\n" + SCRIPT],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["before"] is False  # declared, not imported
    assert out["runs"] == 1 and out["values"] == 8 and out["one_object"]  # eight first reads at once: one import
    assert out["same"] and out["caught"]
