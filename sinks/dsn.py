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
