"""A directory with one log per format and day (native, OpenAI chat and Responses streams, Ollama,
OTel GenAI, LiteLLM, Anthropic SSE streams without a time, Gemini/Vertex, Bedrock) runs through
``ingest``, ``check`` and ``nightly`` as real subprocesses; a longer-answer regression in one
provider's traffic alerts on that provider's model only."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from helpers import run_cli

DAY0, DAY1 = "2026-03-09", "2026-03-10"
PER_DAY = 120
ANSWER = "Your order ships in two days and you will get a tracking link by email"


def _answer(i: int, longer: bool) -> str:
    words = ANSWER.split()[: 6 + i % 9]
    return " ".join(words * (3 if longer else 1)) + "."


def _epoch(day: str, i: int) -> float:
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    return (start + timedelta(minutes=5 + i * 10)).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def native(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    yield {"ts": _iso(_epoch(day, i)), "request_id": f"nat-{day}-{i}", "model": "acme-chat", "model_version": "v7",
           "route": "faq", "response": text}


def openai_chat(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    yield {"route": "faq", "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "When?"}]},
           "response": {"id": f"chatcmpl-{day}-{i}", "object": "chat.completion", "created": int(_epoch(day, i)),
                        "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text, "refusal": None}}],
                        "usage": {"prompt_tokens": 5, "completion_tokens": len(text) // 4, "total_tokens": 9}}}


def openai_responses_stream(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    rid, item = f"resp_{day}_{i}", f"msg_{day}_{i}"
    base = {"id": rid, "object": "response", "created_at": int(_epoch(day, i)), "model": "gpt-4.1-2025-04-14",
            "status": "in_progress", "output": [], "text": {"format": {"type": "text"}}, "usage": None}
    yield {"type": "response.created", "sequence_number": 0, "response": base}
    for k, piece in enumerate(text.split(" ")):
        yield {"type": "response.output_text.delta", "sequence_number": k + 1, "item_id": item, "output_index": 0,
               "content_index": 0, "delta": piece if k == 0 else " " + piece}
    done = {"id": item, "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    yield {"type": "response.completed", "sequence_number": 99, "response": dict(
        base, status="completed", output=[done], usage={"input_tokens": 5, "output_tokens": len(text) // 4})}


def ollama(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    t = _epoch(day, i)
    yield {"model": "qwen3:8b", "created_at": _iso(t - 1), "message": {"role": "assistant", "content": "<think>easy</think>"},
           "done": False}
    yield {"model": "qwen3:8b", "created_at": _iso(t - 0.5), "message": {"role": "assistant", "content": text}, "done": False}
    yield {"model": "qwen3:8b", "created_at": _iso(t), "done": True, "done_reason": "stop", "eval_count": 20,
           "total_duration": 800_000_000}


def otel(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    t = int(_epoch(day, i) * 1e9)

    def kv(k: str, v: Any) -> dict[str, Any]:
        return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
    out = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}])
    span = {"traceId": f"{i:032x}", "spanId": f"{i + (0 if day == DAY0 else 5000):016x}", "name": "chat mistral-small",
            "startTimeUnixNano": str(t - 400_000_000), "endTimeUnixNano": str(t),
            "attributes": [kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "mistral_ai"),
                           kv("gen_ai.request.model", "mistral-small-latest"),
                           kv("gen_ai.response.model", "mistral-small-2409"),
                           kv("gen_ai.usage.output_tokens", 12), kv("gen_ai.output.messages", out)]}
    yield {"resourceSpans": [{"resource": {"attributes": [kv("service.name", "faq-bot")]},
                              "scopeSpans": [{"scope": {"name": "test"}, "spans": [span]}]}]}


def litellm(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    t = _epoch(day, i)
    yield {"id": f"ll-{day}-{i}", "call_type": "acompletion", "status": "success", "model": "gpt-4o-mini",
           "model_group": "faq-default", "custom_llm_provider": "openai",
           "startTime": datetime.fromtimestamp(t - 1.2, timezone.utc).replace(tzinfo=None).isoformat(),
           "endTime": datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None).isoformat(),
           "completion_tokens": 12, "prompt_tokens": 5, "response": text}


def anthropic_stream(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    yield {"type": "message_start", "message": {"id": f"msg_{day}_{i}", "type": "message", "role": "assistant",
           "content": [], "model": "claude-3-5-haiku-20241022", "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1}}}
    yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    for piece in (text[: len(text) // 2], text[len(text) // 2:]):
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
    yield {"type": "content_block_stop", "index": 0}
    yield {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 14}}
    yield {"type": "message_stop"}


def vertex(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    yield {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": 1}],
           "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 12, "totalTokenCount": 17},
           "modelVersion": "gemini-1.5-pro-002", "createTime": _iso(_epoch(day, i)), "responseId": f"v-{day}-{i}"}


def bedrock(day: str, i: int, text: str) -> Iterator[dict[str, Any]]:
    yield {"ts": _iso(_epoch(day, i)), "route": "faq",
           "request": {"modelId": "us.amazon.nova-pro-v1:0", "messages": [{"role": "user", "content": [{"text": "When?"}]}]},
           "response": {"ResponseMetadata": {"RequestId": f"br-{day}-{i}"},
                        "output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
                        "usage": {"inputTokens": 5, "outputTokens": 12, "totalTokens": 17}, "metrics": {"latencyMs": 300}}}


FORMATS: dict[str, tuple[Callable[..., Iterator[dict[str, Any]]], str]] = {
    "native": (native, "acme-chat"), "openai_chat": (openai_chat, "gpt-4o-2024-08-06"),
    "openai_responses_stream": (openai_responses_stream, "gpt-4.1-2025-04-14"), "ollama": (ollama, "qwen3:8b"),
    "otel": (otel, "mistral-small-2409"), "litellm": (litellm, "gpt-4o-mini"),
    "anthropic_stream": (anthropic_stream, "claude-3-5-haiku-20241022"), "vertex": (vertex, "gemini-1.5-pro-002"),
    "bedrock": (bedrock, "amazon.nova-pro-v1:0"),
}
REGRESSED = "bedrock"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    d = tmp_path_factory.mktemp("mixed")
    files = []
    for name, (make, _) in FORMATS.items():
        for day in (DAY0, DAY1):
            path = d / f"{name}-{day}.jsonl"
            with path.open("w") as fh:
                for i in range(PER_DAY):
                    for rec in make(day, i, _answer(i, longer=(name == REGRESSED and day == DAY1))):
                        fh.write(json.dumps(rec) + "\n")
            noon = datetime.fromisoformat(day).replace(hour=12, tzinfo=timezone.utc).timestamp()
            os.utime(path, (noon, noon))      # the time of the Anthropic SSE payloads, which carry none
            files.append(str(path))
    return d, files


def test_every_format_is_detected_and_ingested(mixed: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, files = mixed
    store = tmp_path / "store"
    proc = run_cli("ingest", "--store", str(store), *files)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(files)} file(s)" in proc.stdout and " 0 quarantined" in proc.stdout, proc.stdout
    assert f"{len(FORMATS) * 2 * PER_DAY} ingested" in proc.stdout, proc.stdout
    import monitor

    m = monitor.open(store)
    got = m.sql("SELECT source_format, model, count(*) AS n, bool_and(ts::DATE IN ('2026-03-09', '2026-03-10')) AS days "
                "FROM events GROUP BY ALL ORDER BY ALL")
    assert sorted(got["source_format"].unique()) == sorted(
        ["anthropic", "bedrock", "gemini", "litellm", "native", "ollama", "openai", "otel"])
    assert sorted(got["model"]) == sorted(model for _, model in FORMATS.values())
    assert set(got["n"]) == {2 * PER_DAY} and got["days"].all()
    inferred = m.sql("SELECT count(*) AS n FROM events WHERE json_extract(attributes, '$.ts_inferred') = 'true'")
    assert int(inferred["n"][0]) == 2 * PER_DAY                     # the Anthropic stream payloads only
    thought = m.sql("SELECT min(reasoning_length) AS lo, max(chars) AS hi FROM events WHERE model = 'qwen3:8b'")
    assert int(thought["lo"][0]) == len("easy") and int(thought["hi"][0]) < 80   # <think> kept out of the answer


def test_check_and_nightly_on_the_mixed_store(mixed: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, files = mixed
    store = tmp_path / "store"
    assert run_cli("ingest", "--store", str(store), *files).returncode == 0
    check = run_cli("check", "--store", str(store), "--baseline", f"since={DAY0},until={DAY1}",
                    "--current", f"since={DAY1}", "--by", "model", "--format", "json", "--no-sinks")
    assert check.returncode == 1, check.stderr              # 1 = an alert
    findings = json.loads(check.stdout)["findings"]
    alerts = {(f["metric"], f["segment"]["model"]) for f in findings if f["alert"]}
    assert alerts == {("response_length", FORMATS[REGRESSED][1])}, alerts
    tested = {f["segment"]["model"] for f in findings if f["metric"] == "response_length" and f["p_value"] is not None}
    assert tested == {model for _, model in FORMATS.values()}
    nightly = run_cli("nightly", "--store", str(store), "--date", DAY1, "--by", "model", "--no-compact")
    assert nightly.returncode == 1, nightly.stderr
    assert FORMATS[REGRESSED][1] in nightly.stdout
    models = run_cli("models", "--store", str(store))
    assert models.returncode == 0 and "amazon.nova-pro-v1:0" in models.stdout
    assert "claude-3-5-haiku-20241022" in models.stdout and "gemini-1.5-pro-002" in models.stdout
