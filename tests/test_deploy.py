"""docs/DEPLOY.md: the Kubernetes manifests load and hold the fields the sidecar relies on; the systemd
unit passes ``systemd-analyze verify`` (when installed). No cluster and no systemd instance runs them."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import build_parser
from monitor.tail.server import parse_addr

DOC = Path(__file__).resolve().parent.parent / "docs" / "DEPLOY.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def manifests() -> dict[str, dict[str, Any]]:
    out = {}
    for text in blocks("yaml"):
        for doc in yaml.safe_load_all(text):
            out[doc["kind"]] = doc
    return out


def sidecar_args(args: list[str]) -> Any:
    """The real CLI parser on the manifest's arguments (a usage mistake exits 2)."""
    return build_parser().parse_args(args)


def test_the_pod_shares_the_log_volume_and_probes_the_metrics_port() -> None:
    pod = manifests()["Pod"]
    spec = pod["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    server, sidecar = containers["server"], containers["llm-monitor"]
    volumes = {v["name"]: v for v in spec["volumes"]}

    # the log volume: in both containers, read-only for the sidecar, at the path its glob names
    args = sidecar_args(sidecar["args"])
    assert args.command == "tail"
    log_mounts = {m["name"]: m for m in server["volumeMounts"]}
    side_mounts = {m["name"]: m for m in sidecar["volumeMounts"]}
    shared = set(log_mounts) & set(side_mounts)
    assert shared == {"llm-logs"} and "emptyDir" in volumes["llm-logs"]
    assert side_mounts["llm-logs"]["readOnly"] is True
    assert all(p.startswith(side_mounts["llm-logs"]["mountPath"] + "/") for p in args.paths)
    assert any(a.startswith(log_mounts["llm-logs"]["mountPath"]) for a in server["args"])
    # the store on its own writable volume
    assert args.store.startswith(side_mounts["llm-monitor-store"]["mountPath"] + "/")
    assert not side_mounts["llm-monitor-store"].get("readOnly", False)

    # probes and Prometheus reach the port --metrics-addr binds, on the pod IP
    host, port = parse_addr(args.metrics_addr)
    assert host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert ports["metrics"] == port
    assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert sidecar["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert sidecar["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert args.log_format == "json"

    # resources, the DSN from a Secret (never a literal), not root, time to shut down
    res = sidecar["resources"]
    assert res["requests"]["memory"] and res["requests"]["cpu"] and res["limits"]["memory"]
    env = {e["name"]: e for e in sidecar["env"]}
    assert "secretKeyRef" in env["SENTRY_DSN"]["valueFrom"] and "value" not in env["SENTRY_DSN"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["terminationGracePeriodSeconds"] > 4  # the sidecar's shutdown_timeout_s

    monitor = manifests()["PodMonitor"]
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]


def _unit() -> tuple[str, dict[str, list[str]]]:
    (text,) = blocks("ini")
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    return text, keys


def test_the_systemd_unit_runs_tail_with_a_restart_policy() -> None:
    _, keys = _unit()
    cmd = shlex.split(keys["ExecStart"][0])
    args = sidecar_args(cmd[1:])
    assert args.command == "tail" and parse_addr(args.metrics_addr) == ("127.0.0.1", 9464)
    assert keys["Restart"] == ["on-failure"] and keys["KillSignal"] == ["SIGTERM"]
    assert keys["UMask"] == ["0077"] and keys["User"] == ["llm-monitor"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    text, keys = _unit()
    installed = shlex.split(keys["ExecStart"][0])[0]
    here = shutil.which("llm-monitor") or str(Path(sys.executable).parent / "llm-monitor")
    unit = tmp_path / "llm-monitor-tail.service"
    unit.write_text(text.replace(installed, here), encoding="utf-8")  # verify checks the binary exists
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    own = [line for line in res.stderr.splitlines() if unit.name in line]
    assert own == [], res.stderr  # a bad value is only a warning: none allowed
