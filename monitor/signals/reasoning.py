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
from typing import Sequence

import numpy as np
import pandas as pd

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


def separate_reasoning(response: pd.Series, reasoning: Sequence[str | None], mode: str = "separate",
                       tags: Sequence[str] = DEFAULT_TAGS) -> tuple[pd.Series, pd.Series]:
    """(answer texts, ``reasoning_length`` as nullable Int64) for a batch.

    Only rows whose text holds a closing or opening tag are split (a vectorized pre-filter).

    >>> ans, n = separate_reasoning(pd.Series(["<think>hmm</think>Yes.", "No."]), [None, "because"])
    >>> ans.tolist(), n.tolist()
    (['Yes.', 'No.'], [3, 7])
    >>> separate_reasoning(pd.Series(["<think>hmm</think>Yes."]), [None], "keep")[0].tolist()
    ['<think>hmm</think>Yes.']
    """
    if mode not in REASONING_MODES:
        raise ValueError(f"reasoning must be one of {REASONING_MODES}, got {mode!r}")
    field_len = np.array([len(r) if isinstance(r, str) and r else -1 for r in reasoning], dtype=np.int64)
    answers = response.copy()
    inline_len = np.full(len(response), -1, dtype=np.int64)
    if mode == "separate" and len(response):
        names = "|".join(re.escape(t) for t in tags)
        candidates = response.str.contains(rf"</?(?:{names})>", regex=True, na=False).to_numpy(bool)
        for i in np.flatnonzero(candidates):
            answer, thought = split_inline(response.iat[i], tags)
            if thought is not None:
                answers.iat[i] = answer
                inline_len[i] = len(thought)
    total = np.where(field_len >= 0, field_len, 0) + np.where(inline_len >= 0, inline_len, 0)
    present = (field_len >= 0) | (inline_len >= 0)
    lengths = pd.array(np.where(present, total, 0), dtype="Int64")
    lengths[~present] = pd.NA
    return answers, pd.Series(lengths, index=response.index)
