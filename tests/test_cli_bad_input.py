"""Bad input is normal input for a log tool: one line on stderr, a documented exit code, nothing lost.

The listed cases run the CLI in-process through ``monitor.cli.main`` (the console script's entry
point); a hypothesis test then throws generated files and argument strings at every command.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import monitor
from helpers import event, run_cli, write_jsonl
from monitor.cli import main

COMMANDS = ("signals", "ingest", "check", "models", "nightly", "tail", "demo")


def _run(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``llm-monitor ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help, --version, usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "good.jsonl", [event(i) for i in range(5)])
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n \n\n")
    (tmp_path / "binary.jsonl").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "latin1.jsonl").write_bytes('{"response": "caf\u00e9"}\n'.encode("latin-1"))
    write_jsonl(tmp_path / "api_error.jsonl", [{"error": {"message": "Rate limit", "type": "rate_limit_error"}}] * 3)
    write_jsonl(tmp_path / "unknown_shape.jsonl", [{"foo": i} for i in range(4)])
    write_jsonl(tmp_path / "bad_native.jsonl", [event(i, ts="not a time") for i in range(3)])
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file").write_text("x")
    return tmp_path


@pytest.mark.parametrize("name, reason", [
    ("empty.jsonl", "is empty (no line holds an event)"),
    ("blank.jsonl", "is empty (no line holds an event)"),
    ("binary.jsonl", "invalid UTF-8"),
    ("latin1.jsonl", "invalid UTF-8 (1)"),
    ("api_error.jsonl", "3 line(s) quarantined"),
    ("unknown_shape.jsonl", "format not recognised"),
    ("bad_native.jsonl", "ts: not an ISO 8601 date-time (3)"),
])
def test_signals_and_check_of_a_file_with_no_event(files: Path, name: str, reason: str) -> None:
    code, out, err = _run(["signals", name], files)
    _one_line_error(code, err, name, reason)
    assert out == ""
    code, out, err = _run(["check", "--store", "s", "--baseline", "good.jsonl", "--current", name, "--no-sinks"], files)
    _one_line_error(code, err, f"nothing to compare: the current window {name}", reason)


def test_ingest_of_a_file_whose_lines_are_all_bad_reports_and_keeps_them(files: Path) -> None:
    code, out, err = _run(["ingest", "--store", "s", "binary.jsonl", "api_error.jsonl", "latin1.jsonl"], files)
    assert code == 0 and err == "", err
    assert "0 ingested" in out and "quarantined" in out and "invalid UTF-8" in out
    q = monitor.open(files / "s").quarantine()
    lines = (files / "binary.jsonl").read_bytes().count(b"\n") + 1 + 3 + 1
    assert len(q) == lines  # nothing lost: every non-blank line is in the quarantine with its reason


@pytest.mark.parametrize("argv, needles", [
    (["signals", "a_dir"], ["is a directory"]),
    (["ingest", "--store", "s", "a_dir"], ["is a directory"]),
    (["ingest", "--store", "s", "missing.jsonl"], ["no such file"]),
    (["ingest", "--store", "s", "s3a://bucket/logs/a.jsonl"], ["no such file: s3a://bucket/logs/a.jsonl", "--engine spark"]),
    (["check", "--store", "s", "--baseline", "a_dir", "--current", "good.jsonl"], ["is a directory"]),
    (["signals", "good.jsonl", "--input-format", "bogus"], ["invalid choice: 'bogus'"]),
    (["ingest", "--store", "s", "--input-format", "xml", "good.jsonl"], ["invalid choice: 'xml'"]),
    (["check", "--baseline", "good.jsonl", "--current", "good.jsonl", "--by", "colour"], ["unknown segment key 'colour'"]),
    (["check", "--store", "s", "--baseline", "since=2026-13-45", "--current", "last=1d"], ["is not an ISO 8601"]),
    (["check", "--store", "s", "--baseline", "last=forever", "--current", "last=1d"], ["bad duration"]),
    (["check", "--store", "s", "--baseline", "colour=red", "--current", "last=1d"], ["unknown selector key"]),
    (["check", "--store", "s", "--baseline", "model=a,oops", "--current", "last=1d"], ["bad selector term"]),
    (["check", "--store", "s", "--baseline", "since=2026-11-02,until=2026-11-01", "--current", "last=1d"],
     ["empty time range"]),
    (["models", "--store", "s", "--since", "someday"], ["is not an ISO 8601"]),
    (["nightly", "--store", "s", "--date", "2026-02-30"], ["is not a date"]),
    (["tail", "--store", "s", "--once", "a_dir"], ["is a directory"]),
    (["tail", "--store", "s", "--once", "--baseline", "colour=1", "good.jsonl"], ["unknown selector key"]),
    (["demo", "--store", "s", "--events", "0"], ["must be >= 1"]),
    (["check", "--store", "s", "--baseline", "model=a", "--current", "model=b"], ["store s has no events"]),
    (["nightly", "--store", "s", "--no-compact"], ["store s has no events"]),
    (["check", "--baseline", "good.jsonl", "--current", "good.jsonl", "--config", "a_dir"], ["is a directory", "a_dir"]),
])
def test_user_mistakes_give_one_line_and_exit_2(files: Path, argv: list[str], needles: list[str]) -> None:
    code, _, err = _run(argv, files)
    _one_line_error(code, err, *needles)


@pytest.mark.parametrize("command", [
    ["ingest", "good.jsonl"], ["check", "--baseline", "model=a", "--current", "model=b"], ["models"],
    ["nightly", "--no-compact"], ["tail", "--once", "good.jsonl"], ["demo", "--events", "10"]])
@pytest.mark.parametrize("store, needle", [("a_file", "is a file, not a directory"),
                                           ("a_file/sub", "cannot open store a_file/sub")])
def test_a_store_that_cannot_be_a_store(files: Path, command: list[str], store: str, needle: str) -> None:
    code, _, err = _run([command[0], "--store", store, *command[1:]], files)
    _one_line_error(code, err, needle)


def test_empty_store_readers(files: Path) -> None:
    code, out, err = _run(["models", "--store", "s"], files)
    assert code == 0 and err == "" and out.strip()
    code, out, err = _run(["tail", "--store", "s", "--once", "empty.jsonl"], files)
    assert code == 0 and "Traceback" not in err


def test_a_bug_is_one_line_with_its_own_exit_code(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.cli

    def broken(args: object) -> int:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(monitor.cli.COMMANDS, "models", broken)
    code, _, err = _run(["models", "--store", "s"], files)
    assert code == 3 and err.count("\n") == 1
    assert "internal error: RuntimeError: boom" in err and "LLM_MONITOR_DEBUG" in err


def test_subprocess_no_traceback_for_a_file_of_api_errors(files: Path) -> None:
    proc = run_cli("signals", "api_error.jsonl", cwd=files)
    _one_line_error(proc.returncode, proc.stderr, "has no valid event")


# ----------------------------------------------------------------------------- generated input
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)

line_bytes = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(0, 40).map(lambda i: json.dumps(event(i)).encode()),
    st.tuples(st.integers(0, 40), st.integers(1, 60)).map(lambda t: json.dumps(event(t[0])).encode()[: t[1]]),
    st.just(json.dumps(event(99, response="x" * 300_000)).encode()),
    st.just(b'{"error": {"type": "server_error", "message": "overloaded"}}'),
)
valid_lines = st.tuples(st.integers(0, 1000), st.sampled_from(["m", "n"]), st.sampled_from(["v1", "v2"]),
                        st.sampled_from(["chat", "faq"])).map(
    lambda t: json.dumps(event(t[0], model=t[1], model_version=t[2], route=t[3],
                               request_id=f"r{t[0]}-{t[2]}")).encode())
file_contents = st.one_of(
    st.lists(line_bytes, max_size=6),
    st.tuples(st.lists(valid_lines, min_size=1, max_size=30), st.lists(line_bytes, max_size=2)).map(
        lambda t: t[0] + t[1]),
).map(lambda lines: b"\n".join(lines))

words = st.one_of(
    st.sampled_from(["log.jsonl", "other.jsonl", "a_dir", "missing.jsonl", "a_file", "", "-", "--", "=",
                     "model=m", "model_version=v1", "route=chat|search", "since=2026-11-01", "until=2026-11-01",
                     "last=24h", "last=0d", "colour=red", "model", "route,model", "model,,route", "2026-11-01",
                     "2026-99-99", "native", "openai", "mapping", "auto", "hash", "json", "table", "-1", "0", "1e9"]),
    st.text(max_size=12))

FLAGS = {
    "signals": ["--input-format", "--format", "--config"],
    "ingest": ["--store", "--input-format", "--redact", "--config"],
    "check": ["--store", "--baseline", "--current", "--by", "--format", "--config"],
    "models": ["--store", "--since", "--format"],
    "nightly": ["--store", "--date", "--by"],
    "tail": ["--store", "--baseline", "--input-format", "--status-interval", "--check-interval"],
}
SWITCHES = {"check": ["--no-sinks", "--no-sinks"], "models": ["--alert"], "nightly": ["--no-compact"],
            "tail": ["--once"]}


files_or_words = st.one_of(st.sampled_from(["log.jsonl", "other.jsonl"]), words)
REQUIRED = {
    "signals": lambda draw: [draw(files_or_words)],
    "ingest": lambda draw: [draw(files_or_words) for _ in range(draw(st.integers(1, 2)))],
    "check": lambda draw: ["--baseline", draw(files_or_words), "--current", draw(files_or_words)],
    "models": lambda draw: [],
    "nightly": lambda draw: [],
    "tail": lambda draw: [draw(files_or_words)],
}


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(FLAGS)))
    argv = [command, *REQUIRED[command](draw)]
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            argv += [draw(st.sampled_from(FLAGS[command])), draw(words)]
        elif choice == 1 and command in SWITCHES:
            argv.append(draw(st.sampled_from(SWITCHES[command])))
        else:
            argv.append(draw(words))
    if command == "tail":
        argv.append("--once")  # the follower would otherwise run until a signal
    if command == "check" and "--no-sinks" not in argv:
        argv.append("--no-sinks")
    return argv


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(content=file_contents, other=file_contents, argv=argvs())
def test_any_file_and_any_arguments_exit_0_1_or_2_without_a_traceback(tmp_path: Path, content: bytes, other: bytes,
                                                                      argv: list[str]) -> None:
    (tmp_path / "log.jsonl").write_bytes(content)
    (tmp_path / "other.jsonl").write_bytes(other)
    (tmp_path / "a_dir").mkdir(exist_ok=True)
    (tmp_path / "a_file").write_text("x")
    if "--store" not in argv:
        argv = [argv[0], "--store", "store", *argv[1:]] if argv[0] != "signals" else argv
    code, _, err = _run(argv, tmp_path)
    if os.environ.get("LLM_MONITOR_FUZZ_LOG"):
        with open(os.environ["LLM_MONITOR_FUZZ_LOG"], "a") as fh:
            fh.write(json.dumps([code, argv, err[:120]]) + "\n")
    assert code in (0, 1, 2), f"{argv}: exit {code}: {err}"
    assert "Traceback" not in err and "internal error" not in err, f"{argv}: {err}"
    if code == 2:
        assert err.count("\n") == 1, f"{argv}: {err}"
