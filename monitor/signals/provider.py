"""Refusals the provider reported itself: counted whatever the text says.

Adapters mark them in ``attributes.provider_refusal`` with the provider's reason: OpenAI
``message.refusal`` / Responses ``refusal`` parts (``refusal``), Anthropic ``stop_reason:
"refusal"``, Gemini safety blocks (``SAFETY``, ``PROHIBITED_CONTENT``, ``BLOCKLIST``,
``RECITATION``, ``SPII``, ...; as a candidate's ``finishReason`` or ``promptFeedback.blockReason``),
Bedrock ``guardrail_intervened`` / ``content_filtered``. Such an event is a ``full_refusal`` with the
rule ``provider:<reason>``.

Example:
    >>> provider_refusal_rules(['{"pinned":true,"provider_refusal":"SAFETY"}', None, '{"pinned":false}']).to_pylist()
    ['provider:SAFETY', None, None]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RULE_PREFIX = "provider:"
_REASON = r'"provider_refusal":"(?P<reason>[^"\\]{1,64})"'


def provider_refusal_rules(attributes: Any) -> pa.Array:
    """``provider:<reason>`` per event whose attributes (JSON text; an Arrow string array or a
    sequence of texts) carry ``provider_refusal``, else null (RE2, vectorized)."""
    if not isinstance(attributes, (pa.Array, pa.ChunkedArray)):
        attributes = pa.array(list(attributes), type=pa.string())
    reasons = pc.struct_field(pc.extract_regex(attributes, _REASON), [0])
    return pc.binary_join_element_wise(RULE_PREFIX, reasons, "")


def apply_provider_refusals(signals: dict[str, Any], attributes: Any) -> dict[str, Any]:
    """Mark provider-reported refusals in the signal columns (``refusal``, ``refusal_class``,
    ``refusal_rule``: numpy arrays, as :func:`monitor.signals.signal_columns` gives them); in place.

    >>> s = {"refusal": np.array([False]), "refusal_class": np.array(["compliance"], dtype=object),
    ...      "refusal_rule": np.array([None], dtype=object)}
    >>> out = apply_provider_refusals(s, ['{"provider_refusal":"guardrail_intervened"}'])
    >>> out["refusal"].tolist(), out["refusal_class"].tolist(), out["refusal_rule"].tolist()
    ([True], ['full_refusal'], ['provider:guardrail_intervened'])
    """
    rules = provider_refusal_rules(attributes)
    if rules.null_count == len(rules):
        return signals
    hit = rules.is_valid().to_numpy(zero_copy_only=False)
    signals["refusal_class"][hit] = "full_refusal"
    signals["refusal_rule"][hit] = np.asarray(rules.filter(pa.array(hit)).to_pylist(), dtype=object)
    signals["refusal"][hit] = True
    return signals
