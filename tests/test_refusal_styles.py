"""Refusal styles of widely used chat-model families (issue 19, second pass).

Each family of models words refusals and over-refusals its own way: Llama-2-chat's ethical
preambles ("I'm just an AI, it's not within my programming or ethical guidelines ..."),
Llama-3's terse "I can't ...", Claude's "I don't feel comfortable ..." / "I'd prefer not to",
Gemini's "I'm a text-based AI and can't help with that", Qwen and Command-R, the older ChatGPT
"As an AI language model ...", and Mistral without a guardrail. For every style: positives in
that style (full, or partial when safe general content follows) and near misses, the same
words in answers that comply. Every sentence was written for the table from general knowledge
of how these models phrase things; none is copied from a data set. The table is
`refusal_cases.STYLES`; `test_refusal_families.py` checks each of its positives and near misses,
this file what is particular to the styles.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.signals.refusal import RULES, classify_text, text_signals
from monitor.signals.refusal_rules import LEAD
from refusal_cases import STYLES, flatten


def test_every_style_has_positives_and_near_misses() -> None:
    for style, (pos, neg) in STYLES.items():
        if style != "former_false_refusals":
            assert len(pos) >= 4 and len(neg) >= 3, style


def test_role_statement_needs_the_refusal_in_the_same_sentence() -> None:
    # "I'm designed to ..., so I can't <verb>" is a refusal; a role statement that answers is not
    assert classify_text("I'm built to summarize text, so I can't write code for you.")[0] == "full_refusal"
    assert classify_text("I'm built to summarize text, so here is the summary.") == ("compliance", None)
    # "so I can't" without an action verb stays an ordinary report
    assert classify_text("I'm here to help, so I can't wait to start. Here is the plan.") == ("compliance", None)


def test_bare_refusal_only_as_a_whole_clause() -> None:
    assert classify_text("No. I won't.")[0] == "full_refusal"
    assert classify_text("I won't bore you: the answer is 4.") == ("compliance", None)
    assert classify_text("I can't wait!") == ("compliance", None)
    # deep in an answer the same words are not a refusal (opening rule)
    assert classify_text("Here is the first part of the answer. " * 3 + "I can't.") == ("compliance", None)


def test_not_within_needs_my() -> None:
    assert classify_text("That's beyond my capabilities.")[0] == "full_refusal"
    assert classify_text("That's beyond the capabilities of SQLite; use Postgres.") == ("compliance", None)
    assert classify_text("It's not within budget, so here are cheaper options.") == ("compliance", None)


def test_point_out_not_legal_needs_a_verdict_not_a_disclaimer() -> None:
    assert classify_text("Thanks! I must point out that selling it is not legal in most states.")[0] == "full_refusal"
    assert classify_text("Thanks! I must point out that this is not legal advice. Here is the usual process.") \
        == ("compliance", None)


POSITIVES, _ = flatten(STYLES)
ANCHORED = {r.name for r in RULES if r.pattern.startswith("^") and not r.pattern.startswith(LEAD)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([t for _, t, _ in POSITIVES]),
       st.sampled_from(["Hello! ", "Thank you for your question. ", "I understand.\n\n"]))
def test_style_positives_survive_a_short_greeting(text: str, greeting: str) -> None:
    """A refusal in any of these styles stays a refusal behind a one-sentence greeting (opening
    rules see two sentences, lead rules four), unless the rule that caught it is anchored at the
    very start of the response; alone or in a batch, the decision is the same."""
    plain = classify_text(text)
    greeted = classify_text(greeting + text)
    batch = text_signals([greeting + text, "Sure, here is the answer."])
    assert (batch["refusal_class"].iat[0], batch["refusal_rule"].iat[0]) == greeted
    if plain[1] not in ANCHORED:
        assert greeted[0] != "compliance", (greeting + text, plain)


def test_can_not_is_no_pivot() -> None:
    # "but I can not help" refuses; "however, I can (certainly) explain" pivots to content
    assert classify_text("I'm sorry, but I can not help with that.")[0] == "full_refusal"
    assert classify_text("I can't help with that. However, I can certainly explain the law.")[0] == "partial_refusal"
