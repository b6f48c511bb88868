"""Sentry sink end to end: real sentry-sdk, real HTTP, loopback receiver, relay normalizer."""

from __future__ import annotations

import gzip
import json
import urllib.request
import uuid
from typing import Any

import pytest
from sentry_relay.processing import StoreNormalizer

from sentry_receiver import SentryReceiver, parse_envelope
from sinks.sentry import SentrySink, build_event

SECRET_PROMPT = "PROMPT-TEXT-Zq81 please summarise my medical record"
SECRET_RESPONSE = "RESPONSE-TEXT-Kx42 I can't help with that"


def finding(**kw: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "metric": "refusal_rate",
        "segment": {"model": "acme-7b", "model_version": "v2", "route": "chat"},
        "n_baseline": 3000,
        "n_current": 3100,
        "baseline_value": 0.0201,
        "current_value": 0.0512,
        "effect": 0.0311,
        "ci_low": 0.0222,
        "ci_high": 0.0401,
        "statistic": 6.1,
        "p_value": 1e-9,
        "q_value": 4e-9,
        "alert": True,
        "reason": "significant (q=4e-09) and above floor 1.0 pp",
        "direction": "worse",
        "severity": "error",
        "details": {
            "rate_ratio": 2.55,
            "examples": [{"prompt": SECRET_PROMPT, "response": SECRET_RESPONSE, "rule": "cant_help"}],
            "by_rule": {"cant_help": 120, "samples": [SECRET_RESPONSE]},
        },
        "changed_at": "2026-11-26T10:00:00Z",
    }
    f.update(kw)
    return f


def _only_event(receiver: SentryReceiver) -> tuple[dict[str, Any], bytes]:
    envs = [e for e in receiver.envelopes if e.items_of("event")]
    assert len(envs) == 1, [e.headers for e in receiver.envelopes]
    return envs[0].items_of("event")[0].json(), envs[0].raw


def test_event_fingerprint_tags_level_context(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    sink = make_sentry_sink()
    eid = uuid.uuid4().hex
    result = sink.send({"finding": finding(), "transition": "opened"}, eid)
    assert result.delivered and result.status == 200
    event, raw = _only_event(sentry_receiver)
    assert event["event_id"] == eid
    assert event["fingerprint"] == ["llm-monitor", "refusal_rate", "model=acme-7b,model_version=v2,route=chat"]
    assert event["level"] == "error"
    assert event["environment"] == "test"
    tags = event["tags"]
    assert tags["metric"] == "refusal_rate" and tags["model"] == "acme-7b"
    assert tags["model_version"] == "v2" and tags["route"] == "chat"
    assert tags["direction"] == "worse" and tags["severity"] == "error" and tags["alert_transition"] == "opened"
    ctx = event["contexts"]["finding"]
    assert ctx["n_baseline"] == 3000 and ctx["n_current"] == 3100
    assert ctx["baseline_value"] == pytest.approx(0.0201) and ctx["current_value"] == pytest.approx(0.0512)
    assert [ctx["effect"], ctx["ci_low"], ctx["ci_high"]] == pytest.approx([0.0311, 0.0222, 0.0401])
    assert ctx["q_value"] == pytest.approx(4e-9) and ctx["changed_at"] == "2026-11-26T10:00:00Z"
    assert ctx["details"]["rate_ratio"] == 2.55 and ctx["details"]["by_rule"] == {"cant_help": 120}
    assert event["message"] == (
        "refusal_rate regression on model=acme-7b,model_version=v2,route=chat: 2.0% -> 5.1% (+3.1 pp)"
    )
    # privacy: not in the decoded body at all, in any form
    for text in (SECRET_PROMPT, SECRET_RESPONSE, "PROMPT-TEXT", "RESPONSE-TEXT"):
        assert text.encode() not in raw
    # nothing from our own process is attached automatically
    assert "exception" not in event and "breadcrumbs" not in event or not event["breadcrumbs"]["values"]
    assert event["sdk"]["integrations"] == []


def test_relay_store_normalizer_accepts_event(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    sink = make_sentry_sink()
    assert sink.capture(finding(severity="warning")).delivered
    event, _ = _only_event(sentry_receiver)
    normalized = StoreNormalizer(project_id=1).normalize_event(event)
    assert not normalized.get("errors"), normalized.get("errors")
    assert normalized["level"] == "warning"
    assert normalized["fingerprint"] == event["fingerprint"]
    assert normalized["logentry"]["formatted"].startswith("refusal_rate regression on model=acme-7b")
    assert dict(normalized["tags"])["route"] == "chat"
    assert normalized["contexts"]["finding"]["n_current"] == 3100


def test_send_text_opt_in(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    sink = make_sentry_sink(send_text=True)
    assert sink.capture(finding()).delivered
    _, raw = _only_event(sentry_receiver)
    assert SECRET_RESPONSE.encode() in raw


@pytest.mark.parametrize(
    "sdk_options,encoding",
    [
        ({}, "br"),
        ({"_experiments": {"transport_compression_algo": "gzip"}}, "gzip"),
        ({"_experiments": {"transport_compression_level": 0}}, None),
    ],
)
def test_receiver_decodes_sdk_encodings(
    sentry_receiver: SentryReceiver, make_sentry_sink: Any, sdk_options: dict, encoding: str | None
) -> None:
    sink = make_sentry_sink(sdk_options=sdk_options)
    assert sink.capture(finding()).delivered
    env = sentry_receiver.envelopes[-1]
    assert env.http_headers.get("Content-Encoding") == encoding
    assert env.project == "1"
    assert env.items_of("event")[0].json()["tags"]["metric"] == "refusal_rate"


def test_receiver_framing_without_length_and_gzip(sentry_receiver: SentryReceiver) -> None:
    body = (
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n'
        b'{"type":"event"}\n{"message":"hello","level":"info"}\n'
        b'{"type":"attachment","length":6,"filename":"a.txt"}\nab\ncd\n'
        b'{"type":"client_report"}\n{"discarded_events":[]}'
    )
    for enc, data in ((None, body), ("gzip", gzip.compress(body))):
        req = urllib.request.Request(f"http://127.0.0.1:{sentry_receiver.port}/api/42/envelope/", data=data, method="POST")
        if enc:
            req.add_header("Content-Encoding", enc)
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
    env = sentry_receiver.envelopes[-1]
    assert env.project == "42"
    assert [i.type for i in env.items] == ["event", "attachment", "client_report"]
    assert env.items[1].payload == b"ab\ncd\n"
    assert env.items[0].json()["message"] == "hello"
    assert len(sentry_receiver.envelopes) == 2
    with pytest.raises(ValueError):
        parse_envelope(b'{}\n{"type":"event","length":100}\n{}')


def test_status_is_reported_per_event(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    sink = make_sentry_sink()
    sentry_receiver.set_mode("500")
    r = sink.capture(finding())
    assert not r.delivered and r.status == 500 and not r.permanent
    sentry_receiver.set_mode("429", retry_after=7)
    r = sink.capture(finding())
    assert not r.delivered and r.status == 429 and r.retry_after == 7
    # the SDK now backs off by itself: the next event is dropped before any request is made
    n_requests = len(sentry_receiver.requests)
    r = sink.capture(finding())
    assert not r.delivered and r.status is None and "dropped locally" in (r.error or "")
    assert r.retry_after is not None and 5 < r.retry_after <= 7
    assert len(sentry_receiver.requests) == n_requests
    assert sentry_receiver.events() == []


def test_connection_refused_is_reported(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    sink = make_sentry_sink()
    sentry_receiver.stop()
    r = sink.capture(finding())
    assert not r.delivered and r.status is None and "network" in (r.error or "")


def test_no_dsn_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    sink = SentrySink()
    assert not sink.enabled
    r = sink.send({"finding": finding()}, uuid.uuid4().hex)
    assert not r.delivered and not r.permanent


def test_env_vars_configure_sink(monkeypatch: pytest.MonkeyPatch, sentry_receiver: SentryReceiver) -> None:
    monkeypatch.setenv("SENTRY_DSN", sentry_receiver.dsn)
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "staging")
    sink = SentrySink(timeout=5)
    try:
        assert sink.capture(finding()).delivered
    finally:
        sink.close()
    event, _ = _only_event(sentry_receiver)
    assert event["environment"] == "staging"


def test_length_message_and_improvement() -> None:
    ev = build_event(finding(metric="response_length", baseline_value=412.0, current_value=640.0,
                             effect=0.553, ci_low=0.5, ci_high=0.61, severity="warning"))
    assert ev["message"].endswith(": 412 chars -> 640 chars (+55.3%)")
    ev = build_event(finding(metric="task_success_rate", direction="better", severity="info",
                             baseline_value=0.8, current_value=0.85, effect=0.05))
    assert ev["message"].startswith("task_success_rate improvement on") and ev["level"] == "info"
    assert json.dumps(ev).find("RESPONSE-TEXT") == -1
