"""Model identity: keep what the server resolved apart from the alias that was asked for.

Rule for :func:`is_pinned` (documented in docs/FORMATS.md):

An identity is *pinned* when it names one immutable set of weights/behaviour:

1. ``model_version`` is a digest (``sha256:<hex>`` or 12+ hex characters, as Ollama shows it) or a
   snapshot date (``2024-08-06``, ``20240806``), or any other explicit version string that is not
   empty, ``unknown`` or ``latest`` (a deploy tag the user recorded on purpose); or
2. the model name itself carries a snapshot: a date suffix (``gpt-4o-2024-08-06``,
   ``claude-3-5-sonnet-20241022``, ``gpt-4-0613`` style ``-MMDD``, Mistral's ``-YYMM`` as in
   ``mistral-small-2409``), a numbered revision (``gemini-1.5-pro-002``), or a digest
   (``llama3@sha256:...``).

Everything else is *unpinned*: a bare family alias (``gpt-4o``, ``llama3``), a moving tag
(``llama3:latest``) and also a specific Ollama tag without a digest (``llama3.1:8b-instruct-q4_K_M``),
because a registry tag can be re-pushed and re-pulled with different weights.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_UNVERSIONED = {"", "unknown", "latest", "none", "null", "default"}
_DIGEST = re.compile(r"^(sha256[:\-])?[0-9a-f]{12,64}$", re.IGNORECASE)
_NAME_SNAPSHOT = re.compile(
    r"""(
        (?<![0-9])\d{4}-\d{2}-\d{2}(?![0-9])      # gpt-4o-2024-08-06
      | (?<![0-9])20\d{6}(?![0-9])                # claude-3-5-sonnet-20241022
      | -(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$    # gpt-4-0613, gpt-3.5-turbo-1106
      | -2[3-9](0[1-9]|1[0-2])$                   # mistral-small-2409 (YYMM)
      | -00\d$                                    # gemini-1.5-pro-002
      | @(sha256:)?[0-9a-f]{12,64}$               # llama3@sha256:...
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_DATE_IN_NAME = re.compile(r"(?<![0-9])(\d{4}-\d{2}-\d{2}|20\d{6})(?![0-9])")
_SUFFIX_IN_NAME = re.compile(r"-((?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|2[3-9](?:0[1-9]|1[0-2])|00\d)$")


def is_digest(value: str | None) -> bool:
    """True for a content digest such as ``sha256:6a0746a1ec1a...`` or a 12+ hex id.

    >>> is_digest("sha256:6a0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa")
    True
    >>> is_digest("365c0bd3c000")
    True
    >>> is_digest("latest")
    False
    """
    return bool(value) and bool(_DIGEST.match(value.strip()))  # type: ignore[union-attr]


@functools.lru_cache(maxsize=4096)
def is_pinned(model: str, model_version: str | None) -> bool:
    """Whether ``model`` + ``model_version`` name one fixed version (see the module docstring).

    >>> is_pinned("gpt-4o", None), is_pinned("gpt-4o", "unknown")
    (False, False)
    >>> is_pinned("gpt-4o-2024-08-06", "unknown")
    True
    >>> is_pinned("llama3", None), is_pinned("llama3:latest", "unknown")
    (False, False)
    >>> is_pinned("llama3.1:8b-instruct-q4_K_M", None)
    False
    >>> is_pinned("llama3.1:8b-instruct-q4_K_M", "sha256:46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e")
    True
    >>> is_pinned("my-model", "v2.3.1")
    True
    """
    if isinstance(model_version, str) and model_version.strip().lower() not in _UNVERSIONED:
        return True
    if not isinstance(model, str) or not model:
        return False
    return bool(_NAME_SNAPSHOT.search(model.strip()))


@dataclass(frozen=True)
class Identity:
    """The model identity of one event.

    ``model``: what the server resolved (falls back to the requested alias);
    ``model_version``: digest, snapshot date, explicit version or ``"unknown"``;
    ``requested_model``: the alias the client asked for (None if unknown);
    ``pinned``: :func:`is_pinned` of model and version.
    """

    model: str | None
    model_version: str
    requested_model: str | None
    pinned: bool


def snapshot_of(model: str | None) -> str | None:
    """The snapshot carried in a model name (a date, an ``-MMDD`` or ``-00N`` suffix), if any.

    >>> snapshot_of("gpt-4o-2024-08-06")
    '2024-08-06'
    >>> snapshot_of("claude-3-5-sonnet-20241022")
    '20241022'
    >>> snapshot_of("gpt-3.5-turbo-0125"), snapshot_of("gemini-1.5-pro-002"), snapshot_of("mistral-small-2409")
    ('0125', '002', '2409')
    >>> snapshot_of("gpt-4o") is None
    True
    """
    if not model:
        return None
    m = _DATE_IN_NAME.search(model) or _SUFFIX_IN_NAME.search(model.strip())
    return m.group(1) if m else None


def split_identity(
    resolved: str | None,
    requested: str | None = None,
    *,
    version: str | None = None,
) -> Identity:
    """Split a model identity into resolved model, version and requested alias.

    ``resolved``: the model name the server reports (response ``model``, ``gen_ai.response.model``);
    ``requested``: the name the client asked for; ``version``: an explicit version or digest if the
    log carries one. The version is, in order: ``version``, a digest after ``@`` in the name, the
    snapshot date in the resolved name, else ``"unknown"``.

    >>> split_identity("gpt-4o-2024-08-06", "gpt-4o")
    Identity(model='gpt-4o-2024-08-06', model_version='2024-08-06', requested_model='gpt-4o', pinned=True)
    >>> split_identity(None, "llama3:latest")
    Identity(model='llama3:latest', model_version='unknown', requested_model='llama3:latest', pinned=False)
    """
    resolved = resolved.strip() if isinstance(resolved, str) and resolved.strip() else None
    requested = requested.strip() if isinstance(requested, str) and requested.strip() else None
    model = resolved or requested
    v = version.strip() if isinstance(version, str) and version.strip() else None
    if v is None and model and "@" in model:
        tail = model.rsplit("@", 1)[1]
        if is_digest(tail):
            v = tail
    if v is None:
        v = snapshot_of(resolved)
    if v is None:
        v = "unknown"
    return Identity(model=model, model_version=v, requested_model=requested,
                    pinned=is_pinned(model or "", v))
