"""Refusals the provider reported itself: counted whatever the text says.

Adapters mark them in ``attributes.provider_refusal`` with the provider's reason: OpenAI
``message.refusal`` / Responses ``refusal`` parts (``refusal``), Anthropic ``stop_reason:
"refusal"``, Gemini safety blocks (``SAFETY``, ``PROHIBITED_CONTENT``, ``BLOCKLIST``,
``RECITATION``, ``SPII``, ...; as a candidate's ``finishReason`` or ``promptFeedback.blockReason``),
Bedrock ``guardrail_intervened`` / ``content_filtered``. Such an event is a ``full_refusal`` with the
rule ``provider:<reason>``.

Example:
    >>> provider_refusal_rules(pd.Series(['{"pinned":true,"provider_refusal":"SAFETY"}', None, '{"pinned":false}'])).tolist()
    ['provider:SAFETY', None, None]
"""

from __future__ import annotations

import pandas as pd

RULE_PREFIX = "provider:"
_REASON = r'"provider_refusal":"([^"\\]{1,64})"'


def provider_refusal_rules(attributes: pd.Series) -> pd.Series:
    """``provider:<reason>`` per event whose attributes (JSON text) carry ``provider_refusal``, else None."""
    reasons = attributes.astype(object).where(attributes.notna(), "").astype(str).str.extract(_REASON, expand=False)
    return (RULE_PREFIX + reasons).astype(object).where(reasons.notna(), None)


def apply_provider_refusals(frame: pd.DataFrame) -> pd.DataFrame:
    """Mark provider-reported refusals in a frame with signals (``refusal*`` columns); in place.

    >>> f = pd.DataFrame({"attributes": ['{"provider_refusal":"guardrail_intervened"}'], "refusal": [False],
    ...                   "refusal_class": ["compliance"], "refusal_rule": [None]})
    >>> apply_provider_refusals(f)[["refusal", "refusal_class", "refusal_rule"]].values.tolist()
    [[True, 'full_refusal', 'provider:guardrail_intervened']]
    """
    rules = provider_refusal_rules(frame["attributes"])
    hit = rules.notna().to_numpy()
    if hit.any():
        frame.loc[hit, "refusal_class"] = "full_refusal"
        frame.loc[hit, "refusal_rule"] = rules[hit]
        frame.loc[hit, "refusal"] = True
    return frame
