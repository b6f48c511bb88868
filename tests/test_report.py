"""The HTML report: sections, pictures, escaping, redaction, model-swap review; and in a real Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import monitor
from helpers import run_cli, write_jsonl
from monitor.demo import MODEL, NEW_VERSION, OLD_VERSION, generate_events, write_log
from monitor.report import CSP, SECTIONS, write_report

TODAY = dt.date(2026, 11, 26)
DAY = (TODAY - dt.timedelta(days=1)).isoformat()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "<script>alert('x')</script><img src=http://example.com/pixel.png>"


class _Tags(HTMLParser):
    """Every tag name and attribute of a page, and its inline CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def _extra_events() -> list[dict[str, Any]]:
    """A route only the new version serves, and refusals/parse failures carrying hostile text."""
    rows = []
    for i in range(150):
        rows.append({"ts": f"{DAY}T{i % 24:02d}:{i % 60:02d}:00Z", "request_id": f"translate-{i}", "model": MODEL,
                     "model_version": NEW_VERSION, "route": "translate", "response": f"Bonjour numéro {i}."})
    for i in range(40):
        rows.append({"ts": f"{DAY}T{i % 24:02d}:30:00Z", "request_id": f"hostile-{i}", "model": MODEL,
                     "model_version": NEW_VERSION, "route": "support",
                     "response": f"I can't help with that. {HOSTILE} #{i}"})
    return rows


def _build(root: Path, redact: str | None = None, per_cell: int = 500) -> monitor.Monitor:
    m = monitor.open(root)
    log = root.parent / f"{root.name}-events.jsonl"
    write_log(generate_events(per_cell=per_cell, seed=11, today=TODAY), log)
    extra = write_jsonl(root.parent / f"{root.name}-extra.jsonl", _extra_events())
    m.ingest([str(log), str(extra)], redact=redact)
    return m


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[monitor.Monitor, Path]:
    """A store and the report of the model swap (old version -> new version), written once."""
    base = tmp_path_factory.mktemp("report")
    m = _build(base / "store")
    comparison = m.compare(f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}", by=["model", "route"])
    path = write_report(m, comparison, base / "report.html")
    return m, path


def test_report_sections_and_content(demo: tuple[monitor.Monitor, Path]) -> None:
    _m, path = demo
    text = path.read_text(encoding="utf-8")
    for sid in SECTIONS:
        assert f'id="{sid}"' in text, sid
    assert f'content="{CSP}"' in text
    assert text.count('src="data:image/png;base64,') >= 5  # 4 metrics + parse-status breakdown
    summary = text[text.index('id="summary"'):text.index('id="response-length"')]
    for metric, route in (("Response length", "route=chat"), ("Refusal rate", "route=support"),
                          ("Invalid-JSON rate", "route=extract"), ("Task-success rate", "route=summarize")):
        assert re.search(f"{metric}</b> on <b>model={MODEL}, {route}</b>", summary), metric
    assert "route=faq" not in summary
    assert f"versions: baseline {OLD_VERSION}; current {NEW_VERSION}" in summary
    # a route only the new version served: compared with n=0, never an alert, named in the summary
    assert "Not compared" in summary and "route=translate" in summary
    breakdown = text[text.index('id="parse-failures"'):text.index('id="examples"')]
    for status in ("truncated", "schema_violation"):
        assert status in breakdown


def test_report_escapes_text_and_loads_nothing_external(demo: tuple[monitor.Monitor, Path]) -> None:
    _m, path = demo
    text = path.read_text(encoding="utf-8")
    examples = text[text.index('id="examples"'):text.index('id="all-findings"')]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in examples  # the hostile text, escaped
    assert "<script" not in text.lower()
    tags = _Tags()
    tags.feed(text)
    assert {"script", "link", "iframe", "object", "embed", "base"}.isdisjoint(tags.names)
    external = [(tag, name, value) for tag, name, value in tags.attributes
                if re.match(r"\s*((https?|ftp|wss?):)?//", value or "", re.I)]
    assert external == []
    assert all(value.startswith("data:image/png;base64,") for tag, name, value in tags.attributes
               if name in ("src", "srcset", "poster"))
    assert all((value or "").startswith("#") for tag, name, value in tags.attributes if name == "href")
    assert "url(" not in tags.style and "@import" not in tags.style


def test_model_swap_check_cli_report(demo: tuple[monitor.Monitor, Path], tmp_path: Path) -> None:
    m, _ = demo
    out = tmp_path / "swap.html"
    proc = run_cli("check", "--store", str(m.store.root), "--baseline", f"model_version={OLD_VERSION}",
                   "--current", f"model_version={NEW_VERSION}", "--by", "model,route", "--report", str(out),
                   "--format", "json", "--no-sinks")
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert not [f for f in document["findings"] if f["segment"]["route"] == "translate"]
    translate = [u for u in document["unmatched"] if u["segment"]["route"] == "translate"]
    assert [(u["window"], u["n"] > 0) for u in translate] == [("current", True)]
    assert out.is_file() and 'id="summary"' in out.read_text()


def test_redacted_store_shows_no_text(tmp_path: Path) -> None:
    m = _build(tmp_path / "store", redact="hash", per_cell=200)
    comparison = m.compare(f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}", by=["model", "route"])
    text = write_report(m, comparison, tmp_path / "r.html").read_text()
    examples = text[text.index('id="examples"'):text.index('id="all-findings"')]
    assert "not shown" in examples
    assert "I can&#x27;t help" not in text and "invoice_id" not in text and "sha256:" not in examples


def test_plot_comparison_returns_figures(demo: tuple[monitor.Monitor, Path]) -> None:
    from matplotlib.figure import Figure

    from monitor.report.plots import plot_comparison

    m, _ = demo
    comparison = m.compare(f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}", by=["model", "route"])
    fig = plot_comparison(comparison, "refusal_rate", monitor=m)
    assert isinstance(fig, Figure) and len(fig.axes) >= 1
    forest = comparison.plot("response_length")  # no monitor attached: a forest plot of the findings
    assert isinstance(forest, Figure)
    with pytest.raises(ValueError):
        plot_comparison(comparison, "latency")


def test_report_path_errors(demo: tuple[monitor.Monitor, Path], tmp_path: Path) -> None:
    m, _ = demo
    proc = run_cli("check", "--store", str(m.store.root), "--baseline", f"model_version={OLD_VERSION}",
                   "--current", f"model_version={NEW_VERSION}", "--report", str(tmp_path / "missing" / "r.html"),
                   "--no-sinks")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr


# ------------------------------------------------------------------------------------ Chromium
def _chromium(tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{name}"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120)


def _page_requests(netlog: Path) -> list[str]:
    """http(s) requests started on behalf of a page (not Chromium's own background requests)."""
    data = json.loads(netlog.read_text())
    types = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    urls = []
    for event in data["events"]:
        params = event.get("params") or {}
        if types.get(event["type"]) == "URL_REQUEST_START_JOB" and str(params.get("url", "")).startswith("http"):
            if params.get("initiator") != "not an origin":
                urls.append(params["url"])
    return urls


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: "
                                              "apt-get install -y chromium)")
def test_report_in_headless_chromium(demo: tuple[monitor.Monitor, Path], tmp_path: Path) -> None:
    from PIL import Image

    _m, path = demo
    url = path.resolve().as_uri()
    # 1. the DOM as Chromium built it: every section, every picture decoded from data: URIs
    dom = _chromium(tmp_path, "dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for sid in SECTIONS:
        assert f'id="{sid}"' in dom.stdout, sid
    assert dom.stdout.count("<img") >= 5
    # 2. a screenshot with real content (not a blank page)
    shot = tmp_path / "shot.png"
    run = _chromium(tmp_path, "shot", "--hide-scrollbars", "--window-size=1200,3000", f"--screenshot={shot}", url)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 3000)
    pixels = np.asarray(image)
    non_white = float((pixels.min(axis=2) < 235).mean())
    assert non_white > 0.05, f"page looks blank ({non_white:.1%} non-white)"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, header and plot colours
    assert pixels[:60].mean() < 100  # the dark header band rendered
    # 3. no request leaves the machine on the page's behalf (Chromium's network log)
    netlog = tmp_path / "net.json"
    run = _chromium(tmp_path, "net", f"--log-net-log={netlog}", "--dump-dom", url)
    assert run.returncode == 0
    assert _page_requests(netlog) == []
    # control: the same check catches a page that does load something from the network
    probe = tmp_path / "probe.html"
    probe.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/probe.png"></body></html>')
    control_log = tmp_path / "control.json"
    _chromium(tmp_path, "control", f"--log-net-log={control_log}", "--dump-dom", probe.as_uri())
    assert any("127.0.0.1:9/probe.png" in u for u in _page_requests(control_log))
