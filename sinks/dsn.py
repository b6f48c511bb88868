"""Where the Sentry DSN comes from, decided in one place.

An explicit DSN (``sentry.dsn`` in the config, or the ``dsn`` argument of a sink) wins; then
the ``SENTRY_DSN`` environment variable; an empty string means "no DSN" (nothing leaves the
machine).

Example:
    >>> import os
    >>> os.environ.pop("SENTRY_DSN", None) and None
    >>> resolve_dsn(None) is None, resolve_dsn("https://k@o1.ingest.sentry.io/1")
    (True, 'https://k@o1.ingest.sentry.io/1')
"""

from __future__ import annotations

import os

ENV_VAR = "SENTRY_DSN"


def resolve_dsn(explicit: str | None) -> str | None:
    """``explicit``, else ``$SENTRY_DSN``, else None (empty strings count as unset)."""
    return explicit or os.environ.get(ENV_VAR) or None


def redact_dsn(dsn: str | None) -> str:
    """The DSN without its key (the part before ``@``), for logs, status and errors.

    >>> redact_dsn("https://abc123@o1.ingest.sentry.io/42"), redact_dsn(None)
    ('https://***@o1.ingest.sentry.io/42', '(none)')
    >>> redact_dsn("https://pub:secret@host/1"), redact_dsn("not a dsn")
    ('https://***@host/1', '(set, not shown)')
    """
    if not dsn:
        return "(none)"
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return "(set, not shown)"
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def dsn_problem(dsn: str) -> str | None:
    """Why ``dsn`` is not a usable Sentry DSN (a message without its key), or None.

    >>> dsn_problem("https://abc123@o1.ingest.sentry.io/42") is None
    True
    >>> dsn_problem("ftp://abc123@host/1")
    "Sentry DSN ftp://***@host/1 is not valid: Unsupported scheme 'ftp'"
    """
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn as exc:
        reason = str(exc)
        key = dsn.partition("://")[2].rpartition("@")[0]
        if key:
            reason = reason.replace(key, "***")
        return f"Sentry DSN {redact_dsn(dsn)} is not valid: {reason}"
    return None
