"""The segment keys: the event fields a window is split by (a leaf module; it imports nothing).

    >>> SEGMENT_KEYS[:3]
    ('model', 'model_version', 'route')
"""

SEGMENT_KEYS: tuple[str, ...] = ("model", "model_version", "route", "schema_name", "requested_model")
"""Every key ``--by``, ``segments.by`` and ``[tail] by`` accept."""
