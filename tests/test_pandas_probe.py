"""pyarrow's pandas probes deferred (monitor/pandas_probe.py), checked in real processes.

Each case runs a fresh interpreter that installs the finder as the CLI does, lets pyarrow ask
for pandas from compiled code (a conversion, ``Schema.empty_table``, ``to_numpy``), and only
then imports pandas the way our code does. What pyarrow and DuckDB do with pandas objects
afterwards must be exactly what they do in this test process, where nothing was deferred.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]

#: The conversions compared, as source run both here and in the deferred process.
CONVERSIONS = r'''
def conversions(cases):
    import duckdb
    import pandas as pd
    import pyarrow as pa

    out = []
    for floats, ints, texts in cases:
        s = pd.Series(floats, dtype="float64")
        n = len(ints)
        frame = pd.DataFrame({"f": floats[:n] + [None] * (n - len(floats[:n])), "i": ints, "t": texts[:n] + [None] * (n - len(texts[:n]))})
        row = [str(pa.array(s, from_pandas=True).type), repr(pa.array(s, from_pandas=True).to_pylist()),
               repr(pa.array(s, from_pandas=False).to_pylist()),
               repr(pa.array(pd.Series(ints, dtype="Int64")).to_pylist())]
        table = pa.table(frame)
        row += [str(table.schema), repr(table.to_pylist())]
        back = table.to_pandas()
        row += [repr(back.dtypes.astype(str).tolist()), back.to_json()]
        con = duckdb.connect()
        con.register("t", table)
        got = con.execute("SELECT * FROM t").df()
        row += [repr(got.dtypes.astype(str).tolist()), got.to_json()]
        con.register("p", frame)  # a DataFrame handed to DuckDB
        row += [repr(con.execute("SELECT count(*), count(f), count(t) FROM p").fetchall())]
        con.close()
        out.append(row)
    return out
'''

#: The deferred process: the finder installed, pyarrow's probes answered from compiled code,
#: then pandas imported by a Python statement.
DEFERRED = CONVERSIONS + r'''
import json, sys
from monitor.pandas_probe import defer_pandas
finder = defer_pandas()
import numpy as np, pyarrow as pa
t = pa.table({"x": pa.array(np.arange(4))})
pa.schema([("y", pa.string())]).empty_table()
t["x"].to_numpy(); np.asarray(t["x"].chunk(0)); t["x"].to_numpy()
before = {"pandas_loaded": "pandas" in sys.modules, "refused": finder.refused}
import pandas
cases = json.loads(sys.stdin.read())
print(json.dumps({"before": before, "finder_left": finder in sys.meta_path, "rows": conversions(cases)}))
'''


def _run(code: str, stdin: str = "") -> dict:
    res = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


_floats = st.lists(st.one_of(st.none(), st.just(math.nan), st.floats(allow_nan=False, width=32)), max_size=6)
_ints = st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=6)
_texts = st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=6)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_floats, _ints, _texts), min_size=1, max_size=8))
def test_conversions_after_a_deferred_probe_equal_a_plain_process(cases: list) -> None:
    cases = [[list(f), list(i), list(t)] for f, i, t in cases]
    namespace: dict = {}
    exec(CONVERSIONS, namespace)  # noqa: S102 - the same source as the deferred process runs
    want = namespace["conversions"](cases)
    got = _run(DEFERRED, json.dumps(cases))
    # the deferral did happen: pyarrow asked from compiled code and was answered without pandas
    assert got["before"] == {"pandas_loaded": False, "refused": got["before"]["refused"]}
    assert got["before"]["refused"] >= 2
    assert got["finder_left"] is False  # the Python import made the finder step aside
    assert got["rows"] == json.loads(json.dumps(want))


#: Each way of asking for pandas, in a fresh deferred process: what is loaded afterwards.
_ASK = r'''
import json, sys
from monitor.pandas_probe import defer_pandas, pandas_deferred
finder = defer_pandas()
import numpy as np, pyarrow as pa, duckdb
pa.array(np.arange(3)).to_numpy()
result = {"after_probe": "pandas" in sys.modules}
how = sys.argv[1]
if how == "find_spec":
    import importlib.util
    result["spec"] = importlib.util.find_spec("pandas") is not None
elif how == "import_module":
    import importlib
    importlib.import_module("pandas")
elif how == "dunder":
    __import__("pandas")
elif how == "duckdb_df":
    result["type"] = type(duckdb.connect().execute("SELECT 1 AS x").df()).__name__
elif how == "to_pandas":
    result["type"] = type(pa.table({"x": [1]}).to_pandas()).__name__
elif how == "hidden":  # compiled code asking for pandas under a call of another name
    try:
        pa.table({"x": [1]}).to_pandas
        duckdb.connect().execute("SELECT 1 AS x").to_arrow_table().column(0).to_numpy()
        pa.lib._pandas_api.pd
    except ModuleNotFoundError as exc:
        result["error"] = str(exc)
result["pandas"] = "pandas" in sys.modules
result["deferred"] = pandas_deferred()
result["shim"] = bool(pa.lib._pandas_api.have_pandas)
print(json.dumps(result))
'''


def _ask(how: str) -> dict:
    res = subprocess.run([sys.executable, "-c", _ASK, how], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_a_check_is_answered_truthfully_and_imports_nothing() -> None:
    got = _ask("find_spec")
    assert got == {"after_probe": False, "spec": True, "pandas": False, "deferred": True, "shim": False}


def test_python_imports_load_pandas_and_switch_pyarrow_back_on() -> None:
    for how in ("import_module", "dunder"):
        assert _ask(how) == {"after_probe": False, "pandas": True, "deferred": False, "shim": True}, how


def test_dataframe_producers_import_pandas_themselves() -> None:
    assert _ask("duckdb_df") == {"after_probe": False, "type": "DataFrame", "pandas": True, "deferred": False,
                                 "shim": True}
    assert _ask("to_pandas") == {"after_probe": False, "type": "DataFrame", "pandas": True, "deferred": False,
                                 "shim": True}


def test_a_compiled_import_under_another_call_is_refused_with_the_reason() -> None:
    got = _ask("hidden")
    assert got["after_probe"] is False and got["pandas"] is False and got["deferred"] is True
    assert "pandas deferred by llm-monitor" in got["error"]


def test_library_use_defers_nothing() -> None:
    """``import monitor`` (a notebook) installs no finder: pyarrow imports pandas as usual."""
    code = ("import sys, monitor, monitor.api, monitor.tail.loop, pyarrow as pa, numpy as np\n"
            "from monitor.pandas_probe import pandas_deferred\n"
            "pa.array(np.arange(3)).to_numpy()\n"
            "print(pandas_deferred(), 'pandas' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True"]
