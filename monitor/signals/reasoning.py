"""Reasoning apart from the answer: inline ``<think>`` blocks and providers' reasoning fields.

Reasoning models write their thinking either into a field of its own (Anthropic ``thinking``
blocks, Gemini ``thought`` parts, Bedrock ``reasoningContent``, Ollama ``thinking``, DeepSeek /
vLLM ``reasoning_content``, OpenAI Responses ``reasoning`` items: the adapters put it in the
event's ``reasoning``) or inline, in the answer text, between ``<think>`` and ``</think>`` (qwen3,
DeepSeek-R1 served raw through Ollama or vLLM). Counted as answer, turning reasoning on looks like
a huge length regression, and a JSON answer after a think block looks like a parse failure.

With ``signals.reasoning = "separate"`` (the default) the inline blocks are cut out of
``response``; the reasoning's length in characters (inline plus the provider's field) is the
``reasoning_length`` column, with its own metric. ``"keep"`` leaves the text as logged (the
provider's field is still measured, it was never part of the answer). See docs/SIGNALS.md.

Example:
    >>> split_inline("<think>2+2 is 4</think>\\n\\nThe answer is 4.", ("think",))
    ('The answer is 4.', '2+2 is 4')
"""

from __future__ import annotations

import functools
import re
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REASONING_MODES = ("separate", "keep")
DEFAULT_TAGS = ("think", "thinking")


@functools.lru_cache(maxsize=16)
def _patterns(tags: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    names = "|".join(re.escape(t) for t in tags)
    block = re.compile(rf"<(?P<tag>{names})>(?P<body>.*?)</(?P=tag)>", re.DOTALL)
    opened = re.compile(rf"<(?:{names})>(?P<body>.*)\Z", re.DOTALL)            # cut off while thinking
    head = re.compile(rf"\A(?P<body>(?:(?!<(?:{names})>).)*?)</(?:{names})>", re.DOTALL)  # template opened it
    return block, opened, head


def split_inline(text: str, tags: Sequence[str] = DEFAULT_TAGS) -> tuple[str, str | None]:
    """(answer, reasoning or None) of a text with inline reasoning blocks.

    Handles closed blocks anywhere, a reply that starts inside a block because the chat template
    opened it (``...</think> answer``), and a block still open at the end (generation stopped
    while thinking: the answer is what came before it).

    >>> split_inline("Step one.</think>Done.", ("think",))
    ('Done.', 'Step one.')
    >>> split_inline("<think>still thinking", ("think",))
    ('', 'still thinking')
    >>> split_inline("No reasoning here.", ("think",))
    ('No reasoning here.', None)
    """
    block, opened, head = _patterns(tuple(tags))
    parts: list[str] = []
    m = head.match(text)
    if m:
        parts.append(m["body"])
        text = text[m.end():]

    def cut(match: re.Match[str]) -> str:
        parts.append(match["body"])
        return ""

    text = block.sub(cut, text)
    m = opened.search(text)
    if m:
        parts.append(m["body"])
        text = text[:m.start()]
    if not parts:
        return text, None
    return text.strip(), "".join(parts)


def separate_reasoning(response: Any, reasoning: Any, mode: str = "separate",
                       tags: Sequence[str] = DEFAULT_TAGS) -> tuple[pa.Array, pa.Array]:
    """(answer texts, ``reasoning_length``) of a batch, as Arrow arrays (string, int64 with nulls
    where there is no reasoning). ``response`` and ``reasoning``: Arrow string arrays or sequences
    of texts (None = missing).

    Only rows whose text holds a closing or opening tag are split (a vectorized RE2 pre-filter).

    >>> ans, n = separate_reasoning(["<think>hmm</think>Yes.", "No."], [None, "because"])
    >>> ans.to_pylist(), n.to_pylist()
    (['Yes.', 'No.'], [3, 7])
    >>> separate_reasoning(["<think>hmm</think>Yes."], [None], "keep")[0].to_pylist()
    ['<think>hmm</think>Yes.']
    """
    if mode not in REASONING_MODES:
        raise ValueError(f"reasoning must be one of {REASONING_MODES}, got {mode!r}")
    response = _strings(response)
    n = len(response)
    field_len = pc.utf8_length(_strings(reasoning)).to_numpy(zero_copy_only=False)
    field_len = np.where(np.isnan(field_len), -1, field_len).astype(np.int64) if n else np.zeros(0, np.int64)
    field_len[field_len == 0] = -1  # an empty reasoning field is no reasoning
    inline_len = np.full(n, -1, dtype=np.int64)
    answers = response
    if mode == "separate" and n:
        names = "|".join(re.escape(t) for t in tags)
        hits = pc.fill_null(pc.match_substring_regex(response, f"</?(?:{names})>"), False)
        candidates = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
        if len(candidates):
            texts = response.to_pylist()
            for i in candidates.tolist():
                answer, thought = split_inline(texts[i], tags)
                if thought is not None:
                    texts[i] = answer
                    inline_len[i] = len(thought)
            answers = pa.array(texts, type=response.type)
    total = np.where(field_len >= 0, field_len, 0) + np.where(inline_len >= 0, inline_len, 0)
    present = (field_len >= 0) | (inline_len >= 0)
    return answers, pa.array(total, type=pa.int64(), mask=~present)


def _strings(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    return values if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) else values.cast(pa.string())
