"""The ``llm-monitor`` command line: a thin face of :mod:`monitor.api`.

Exit codes (the same for every command):

- 0: ran, no alert;
- 1: at least one alert;
- 2: bad usage, bad config, unreadable input, or nothing comparable (two windows with no
  segment in common): one line on stderr, no traceback;
- 3: an internal error (a bug in llm-monitor): one line on stderr; set ``LLM_MONITOR_DEBUG=1``
  for the traceback;
- 130: interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Iterable, Sequence

from monitor.errors import UserError

EXIT_OK, EXIT_ALERT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        message = " ".join(message.split("\n"))  # an argument may hold a newline: still one line
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="DIR", help="store directory (default: $LLM_MONITOR_STORE, "
                   "store.path in the config, or ./llm-monitor-data)")
    p.add_argument("--config", metavar="FILE", help="configuration file (default: ./llm-monitor.toml if present)")


def _add_engine(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["duckdb", "spark"], help="query engine (default: $LLM_MONITOR_ENGINE, "
                   "store.engine in the config, or duckdb); see docs/SCALE.md")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="llm-monitor", description="Catch silent output-quality regressions in LLM traffic.")
    parser.add_argument("--version", action="version", version=f"llm-monitor {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("demo", help="generate two model versions of traffic, ingest, compare, alert")
    _add_common(p)
    p.add_argument("--events", type=_positive_int, default=4000, metavar="N",
                   help="events per (version, route) (default 4000)")
    p.add_argument("--seed", type=int, default=7)

    p = sub.add_parser("ingest", help="ingest inference log files into the store")
    _add_common(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--input-format", choices=_formats(), help="force the log format (default: detect per file)")
    p.add_argument("--redact", choices=["none", "hash", "drop"],
                   help="store prompt/response text as is, as SHA-256 hashes, or not at all")
    _add_engine(p)

    p = sub.add_parser("signals", help="print the derived signals of each event in a log file (JSON lines)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("--input-format", choices=_formats())
    p.add_argument("--config", metavar="FILE")

    p = sub.add_parser("check", help="compare a current window with a baseline window per segment")
    _add_common(p)
    p.add_argument("--baseline", required=True, metavar="SEL", help="selector or log file")
    p.add_argument("--current", required=True, metavar="SEL", help="selector or log file")
    p.add_argument("--by", metavar="KEYS", help="segment keys, comma-separated (default model,model_version,route)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--no-sinks", action="store_true", help="do not write the alert log or send to Sentry")
    p.add_argument("--report", metavar="PATH", help="also write a self-contained HTML report of the comparison")
    _add_engine(p)

    p = sub.add_parser("models", help="every model / version seen, pinned or not, new since a time")
    _add_common(p)
    p.add_argument("--since", metavar="TIME", help="mark versions first seen at or after TIME as new")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--alert", action="store_true",
                   help="send each new version through the sinks (alert log, Sentry); exit 1 if any")

    p = sub.add_parser("sample", help="a reproducible random sample of refusal decisions to audit")
    _add_common(p)
    p.add_argument("--select", metavar="SEL", help="which events: a store selector or a log file (default: all)")
    p.add_argument("--where", metavar="COL=VALUE,...",
                   help="column filters, all must hold, e.g. refusal_class=full_refusal,model=gpt-4o (a|b for either)")
    p.add_argument("--n", type=_positive_int, default=50, help="sample size (default 50)")
    p.add_argument("--seed", type=int, default=0, help="another seed, another sample (default 0)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")

    p = sub.add_parser("tail", help="follow inference logs: ingest continuously, alert within seconds")
    _add_common(p)
    p.add_argument("paths", nargs="+", metavar="PATH_OR_GLOB", help="log files or quoted globs (new matches are followed)")
    p.add_argument("--baseline", metavar="SEL", help="baseline selector (default: the trailing 7 days of the store)")
    p.add_argument("--input-format", choices=_formats())
    p.add_argument("--status-file", metavar="FILE", help="write the status line as JSON to FILE")
    p.add_argument("--status-interval", type=_positive_float, default=10.0, metavar="S",
                   help="seconds between status lines (default 10)")
    p.add_argument("--check-interval", type=_positive_float, default=5.0, metavar="S",
                   help="longest time between sequential checks; checks also run after each committed batch (default 5)")
    p.add_argument("--poll-interval", type=_positive_float, default=0.2, metavar="S",
                   help="seconds between looks at the files (default 0.2)")
    p.add_argument("--once", action="store_true", help="ingest what is there now, check once, and exit")
    p.add_argument("--metrics-addr", metavar="HOST:PORT",
                   help="serve Prometheus /metrics, /healthz and /readyz here (a bare PORT: loopback only; default off)")
    p.add_argument("--log-format", choices=["text", "json"], help="log lines on stderr as text or JSON (default text)")

    p = sub.add_parser("nightly", help="compare a day with its trailing baseline; compaction, report, Sentry Crons")
    _add_common(p)
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the day to check (default: yesterday, UTC)")
    p.add_argument("--report", metavar="PATH", help="write the HTML report to PATH")
    p.add_argument("--by", metavar="KEYS", help="segment keys (default: model,route; versions are named in findings)")
    p.add_argument("--no-compact", action="store_true", help="skip compaction of the day's small segments")
    _add_engine(p)
    return parser


def _version() -> str:
    from monitor import __version__

    return __version__


def _formats() -> list[str]:
    from monitor.formats import FORMATS

    return ["auto", *FORMATS]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _open(args: argparse.Namespace) -> Any:
    from monitor.api import open as open_monitor

    return open_monitor(getattr(args, "store", None), config=getattr(args, "config", None),
                        engine=getattr(args, "engine", None))


def _keys(text: str | None) -> list[str] | None:
    return [k.strip() for k in text.split(",") if k.strip()] if text else None


def cmd_ingest(args: argparse.Namespace) -> int:
    m = _open(args)
    report = m.ingest(args.files, input_format=args.input_format, redact=args.redact)
    print(report.summary())
    print(f"store: {m.store.name}")
    return EXIT_OK


SIGNAL_COLUMNS = ["request_id", "model", "model_version", "route", "chars", "words", "reasoning_length", "output_tokens",
                  "refusal", "refusal_class", "refusal_rule", "refusal_span", "expects_json", "parse_status",
                  "parse_error", "task_success"]


def cmd_signals(args: argparse.Namespace) -> int:
    from monitor.api import Monitor
    from monitor.config import load_config

    m = Monitor(None, load_config(args.config))  # signals reads a file: no store
    result = m.file_signals(args.file, input_format=args.input_format)  # Arrow: no pandas to print JSON
    _write_rows(result.rows(SIGNAL_COLUMNS))
    for r in result.rejects:
        sys.stderr.write(f"{r['source']}:{r['line']}: quarantined: {r['reason']}\n")
    return EXIT_OK


def _write_rows(rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object a line on stdout (non-ASCII as is; numpy scalars as numbers, other
    objects as their text)."""
    out = sys.stdout
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=_plain) + "\n")


def _write_jsonl(frame: Any, columns: list[str]) -> None:
    """:func:`_write_rows` of a DataFrame's ``columns`` (missing values as null)."""
    columns = [c for c in columns if c in frame.columns]
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    _write_rows(dict(zip(columns, row)) for row in values.itertuples(index=False))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.errors import NothingToCompare
    from sinks.console import render_compared, render_table, render_unmatched

    m = _open(args)
    try:
        result = m.compare(args.baseline, args.current, by=_keys(args.by))
    except NothingToCompare as exc:
        hint = f"; try --by {','.join(exc.keys)}" if exc.keys else ""
        raise UserError(f"{exc}{hint}") from None
    if args.format == "json":
        print(result.to_json())
    else:
        print(render_compared(result.compared, result.keys, result.within))
        print(render_table([f.to_dict() for f in result.items]))
        if result.unmatched:
            print(render_unmatched(result.unmatched))
    if args.report:
        path = result.report(args.report)
        if args.format == "table":
            print(f"report: {path}")
    if not args.no_sinks:
        note = result.alert(source="check")
        if note and args.format == "table":
            print(note)
    return EXIT_ALERT if result.alerts else EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from monitor.models import render_inventory

    m = _open(args)
    if args.alert and not args.since:
        raise UserError("--alert needs --since TIME (what counts as new)")
    inventory = m.models(since=args.since)
    if args.format == "json":
        print(inventory.to_json(orient="records", date_format="iso", indent=2))
    else:
        print(render_inventory(inventory))
    if args.alert:
        findings = m.new_versions(inventory)
        if findings:
            note = m.alert(findings, source="models")
            if args.format == "table" and note:
                print(note)
            return EXIT_ALERT
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    m = _open(args)
    where: dict[str, Any] = {}
    for term in (t for t in (args.where or "").split(",") if t.strip()):
        key, sep, value = term.partition("=")
        if not sep or not key.strip():
            raise UserError(f"bad --where term {term!r}: expected column=value")
        where[key.strip()] = [v for v in value.split("|")] if "|" in value else value
    sample = m.sample(args.select, where=where or None, n=args.n, seed=args.seed)
    if args.format == "jsonl":
        _write_jsonl(sample, list(sample.columns))
    else:
        from sinks.console import render_sample

        print(render_sample(sample.to_dict("records")))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    run_demo(args.store, config=args.config, events=args.events, seed=args.seed)
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    import warnings

    from monitor.store import StoreExposureWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreExposureWarning)  # the tailer logs it, in its --log-format
        m = _open(args)
    return m.tail(args.paths, baseline=args.baseline, input_format=args.input_format,
                            status_file=args.status_file, status_interval=args.status_interval,
                            check_interval=args.check_interval, poll_interval=args.poll_interval, once=args.once,
                            metrics_addr=args.metrics_addr, log_format=args.log_format)


def cmd_nightly(args: argparse.Namespace) -> int:
    from monitor.progress import Progress

    m = _open(args)
    result = m.nightly(args.date, by=_keys(args.by), report=args.report, compact=not args.no_compact,
                       out=sys.stdout, progress=Progress())
    return EXIT_ALERT if result.alerts else EXIT_OK


COMMANDS = {"ingest": cmd_ingest, "signals": cmd_signals, "check": cmd_check, "models": cmd_models,
            "sample": cmd_sample, "demo": cmd_demo, "tail": cmd_tail, "nightly": cmd_nightly}


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    """Warnings on stderr as one line (``llm-monitor: warning: ...``), not Python's two."""
    return f"llm-monitor: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llm-monitor`` console script."""
    from monitor.pandas_probe import defer_pandas

    defer_pandas()  # pyarrow asks for pandas on its own; only code that uses it imports it
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if any("\x00" in word for word in words):  # no shell can pass one; a path with it cannot be opened
        parser.error("an argument holds a NUL byte")
    args = parser.parse_args(words)
    if args.command == "tail":  # before pyarrow is imported (monitor/tail/memory.py)
        from monitor.tail.memory import prefer_returning_arrow_pool

        prefer_returning_arrow_pool()
    import warnings

    warnings.formatwarning = _one_line_warning
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        message = " ".join(str(exc).splitlines())  # a path may hold a newline: the message stays one line
        sys.stderr.write(f"llm-monitor {args.command}: error: {message}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("llm-monitor: interrupted\n")
        return 130
    except Exception as exc:  # a bug, not the user's mistake: still one line, and a code of its own
        if os.environ.get("LLM_MONITOR_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0][:300]
        sys.stderr.write(f"llm-monitor {args.command}: internal error: {type(exc).__name__}: {first} "
                         "(a bug in llm-monitor; set LLM_MONITOR_DEBUG=1 for the traceback)\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
