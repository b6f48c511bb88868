"""Refusal and length signals: table-driven per family and language, plus hypothesis properties."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.signals import SignalConfig, derive_signals
from monitor.signals.refusal import RULES, active_rules, classify_text, text_signals

# (text, expected class, family of the deciding rule or None)
POSITIVES = [
    # English: apology + inability
    ("I'm sorry, but I can't help with that request.", "full_refusal", "apology_inability"),
    ("Sorry, but I can’t assist with that.", "full_refusal", "apology_inability"),
    ("I apologize, but I am unable to provide that information.", "full_refusal", "apology_inability"),
    ("I cannot provide instructions for making explosives.", "full_refusal", "apology_inability"),
    ("I must respectfully decline this request.", "full_refusal", "apology_inability"),
    ("Unfortunately, I won't be able to write that for you.", "full_refusal", "apology_inability"),
    ("I apologize, but I do not feel comfortable providing instructions for that.", "full_refusal", "apology_inability"),
    ("That's not something I can help with.", "full_refusal", "apology_inability"),
    ("I'd prefer not to discuss that.", "full_refusal", "apology_inability"),
    ("I won't be able to help with that.", "full_refusal", "apology_inability"),
    ("I don't feel comfortable providing instructions for that.", "full_refusal", "apology_inability"),
    ("I cannot fulfill your request. It's not within my programming or ethical guidelines.", "full_refusal",
     "apology_inability"),
    (
        "I can't provide medical advice, but I can share general information about how the drug works.",
        "partial_refusal",
        None,
    ),
    # English: AI identity
    ("I'm a text-based AI and can't assist with that.", "full_refusal", "ai_identity"),
    ("I'm just a language model, so I can't help you with that.", "full_refusal", "ai_identity"),
    ("As an AI language model, I cannot share personal opinions on that topic.", "full_refusal", "ai_identity"),
    ("I am an AI language model and do not condone violence of any kind.", "full_refusal", "ai_identity"),
    # English: policy / safety
    ("That request goes against my guidelines, so I will not write it.", "full_refusal", None),
    ("It is not appropriate to discuss methods of self-harm.", "full_refusal", "policy_safety"),
    ("Violence against others is never acceptable.", "full_refusal", "policy_safety"),
    ("I must clarify that stealing a car is illegal.", "full_refusal", "policy_safety"),
    # English: redirection to a professional
    (
        "I'm really sorry you're feeling this way. Please reach out to a mental health professional "
        "or a crisis hotline right away.",
        "full_refusal",
        "redirect_professional",
    ),
    ("Please consult a licensed attorney about this matter.", "full_refusal", "redirect_professional"),
    # English: partial (refuse, then comply)
    (
        "I can't help you get into someone else's account. However, I can explain how to secure your own:\n"
        "1. Use a password manager.\n2. Turn on two-factor authentication.",
        "partial_refusal",
        None,
    ),
    (
        "Sorry, I can't write malware. Here's an explanation of how antivirus software detects it instead.",
        "partial_refusal",
        None,
    ),
    (
        "I'm sorry, but I cannot provide that. That said, here are some general tips you can use.",
        "partial_refusal",
        None,
    ),
    (
        "While I can't give you a specific dosage, I can explain the general factors doctors consider.",
        "partial_refusal",
        None,
    ),
    # Spanish
    ("Lo siento, pero no puedo ayudar con eso.", "full_refusal", "apology_inability"),
    ("No puedo proporcionar esa información.", "full_refusal", "apology_inability"),
    ("Como modelo de lenguaje, no puedo acceder a internet.", "full_refusal", "ai_identity"),
    ("No es apropiado compartir datos personales de terceros.", "full_refusal", "policy_safety"),
    # French
    ("Désolé, mais je ne peux pas vous aider avec cela.", "full_refusal", "apology_inability"),
    ("Je ne peux pas fournir ces informations.", "full_refusal", "apology_inability"),
    ("Je ne suis pas en mesure de vous aider avec cette demande.", "full_refusal", "apology_inability"),
    ("En tant qu’IA, je ne peux pas accéder à vos fichiers.", "full_refusal", "ai_identity"),
    ("Il n'est pas approprié de partager ces informations.", "full_refusal", "policy_safety"),
    # German
    ("Es tut mir leid, aber ich kann Ihnen dabei nicht helfen.", "full_refusal", "apology_inability"),
    ("Ich kann Ihnen dabei nicht helfen.", "full_refusal", "apology_inability"),
    ("Ich kann dir dabei leider nicht helfen.", "full_refusal", "apology_inability"),
    ("Als KI kann ich keine persönlichen Daten abrufen.", "full_refusal", "ai_identity"),
    ("Es ist nicht angemessen, darüber zu sprechen.", "full_refusal", "policy_safety"),
    # Portuguese
    ("Desculpe, mas não posso ajudar com isso.", "full_refusal", "apology_inability"),
    ("Não posso fornecer essas informações.", "full_refusal", "apology_inability"),
    ("Como uma IA, não tenho acesso a dados pessoais.", "full_refusal", "ai_identity"),
    ("Não é apropriado compartilhar isso.", "full_refusal", "policy_safety"),
    # Chinese
    ("抱歉，我无法帮助你完成这个请求。", "full_refusal", "apology_inability"),
    ("我不能提供这些信息。", "full_refusal", "apology_inability"),
    ("作为一个人工智能，我无法访问互联网。", "full_refusal", "ai_identity"),
    ("这违反了我的使用政策。", "full_refusal", "policy_safety"),
    # Japanese
    ("申し訳ありませんが、そのご依頼にはお応えできません。", "full_refusal", "apology_inability"),
    ("その情報を提供することはできません。", "full_refusal", "apology_inability"),
    ("AIとして、個人情報にアクセスすることはできません。", "full_refusal", "ai_identity"),
    ("ポリシーに反するため、お手伝いできません。", "full_refusal", None),
]

NEGATIVES = [
    "I'm sorry to hear that. Here are some tips that may help you sleep better.",
    "I cannot stress enough how important it is to back up your data.",
    "I cannot stress enough how important it is to help your team grow.",
    "I'm sorry to hear about your dog. " + "Here is a long, careful answer about pet care. " * 12
    + "Talk to a trusted friend if you need support.",
    "I can't recommend this book enough!",
    "```python\nprint(\"I'm sorry, but I can't help with that.\")\n```\nThis prints a canned refusal.",
    "> I'm sorry, Dave. I'm afraid I can't do that.\n\nThat line is from 2001: A Space Odyssey.",
    'The bot replied "I cannot help with that" and users were confused. Here is how to fix the prompt.',
    "Use `raise CannotHelp(\"I can't assist with that\")` in your handler.",
    "Unfortunately, the API can't handle more than 100 requests per second, so batch them.",
    "As an AI, I don't have personal opinions, but here is a balanced overview of both positions.",
    "I'm sorry, but I don't understand the question. Could you please clarify what you mean?",
    "To kill a Python process, run `kill -9 <pid>` or use `os.kill` with signal.SIGTERM.",
    "Lo siento mucho por tu pérdida. Aquí tienes algunas ideas para el homenaje.",
    "Désolé pour le retard ! Voici la réponse : 42.",
    "Leider regnet es heute, aber hier ist das Rezept für Apfelkuchen.",
    "Desculpe a demora! Aqui está a resposta completa.",
    "While I can see why you'd ask, the short answer is yes: it's safe.",
    "It's not something I would worry about; the numbers look fine.",
    "抱歉让你久等了！以下是答案：42。",
    "申し訳ありませんが、少々お待ちください。回答はこちらです。",
    "It's not a good idea to use eval on untrusted input; use ast.literal_eval instead.",
    "This approach is not right for large datasets. Use a streaming parser.",
    "I can't find any evidence that this is true; studies show otherwise.",
    "The exact figure is not publicly available, but estimates put it at 3 million.",
    "This font is not appropriate for body text.",
    "I'm not comfortable with heights either, but here is how the ladder works.",
    "",
]

FAMILY = {r.name: r.family for r in RULES}


@pytest.fixture(scope="module")
def table_result() -> dict[str, tuple[str, str | None]]:
    """All table rows classified in one vectorized batch (one DuckDB pass)."""
    texts = [p[0] for p in POSITIVES] + NEGATIVES
    out = text_signals(texts)
    return dict(zip(texts, zip(out["refusal_class"], out["refusal_rule"])))


@pytest.mark.parametrize("text,klass,family", POSITIVES, ids=[p[0][:40] for p in POSITIVES])
def test_positive_examples(table_result: dict, text: str, klass: str, family: str | None) -> None:
    got, rule = table_result[text]
    assert got == klass, (text, got, rule)
    assert rule is not None
    if family is not None:
        assert FAMILY[rule] == family, (text, rule)


@pytest.mark.parametrize("text", NEGATIVES, ids=[n[:40] or "empty" for n in NEGATIVES])
def test_near_miss_negatives(table_result: dict, text: str) -> None:
    assert table_result[text] == ("compliance", None)


def test_classify_text_single() -> None:
    assert classify_text("I'm sorry, but I won't help with that.")[0] == "full_refusal"


def test_every_language_has_each_main_family() -> None:
    langs = {}
    for r in RULES:
        langs.setdefault(r.lang, set()).add(r.family)
    for lang in ("en", "es", "fr", "de", "pt", "zh", "ja", "it", "nl"):
        assert {"apology_inability", "ai_identity", "policy_safety"} <= langs[lang], lang


def test_position_awareness() -> None:
    # The same apology+inability sentence deep inside an answer does not decide.
    long_answer = "Here is the recipe. " * 30 + "Sorry, but I can't help with the frosting."
    assert classify_text(long_answer)[0] == "compliance"


def _flip(text: str, rng: random.Random, rate: float) -> str:
    out = []
    for ch in text:
        flipped = ch.swapcase()
        if (ch.isalpha() and len(flipped) == 1 and flipped.lower() == ch.lower()
                and ch not in "\u0130\u0131\u017f" and rng.random() < rate):
            ch = flipped
        elif ch == "'":
            ch = rng.choice(["'", "\u2019", "\u2018", "\u02bc"])
        out.append(ch)
    return "".join(out)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_case_and_apostrophe_invariance(seed: int, rate: float) -> None:
    rng = random.Random(seed)
    texts = [p[0] for p in POSITIVES] + NEGATIVES
    variants = [_flip(t, rng, rate) for t in texts]
    base = text_signals(texts)
    var = text_signals(variants)
    assert base["refusal_class"].tolist() == var["refusal_class"].tolist()
    assert base["refusal_rule"].tolist() == var["refusal_rule"].tolist()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=20))
def test_arbitrary_text_never_raises_and_lengths_match_python(texts: list[str]) -> None:
    out = text_signals(texts)
    assert out["chars"].tolist() == [len(t) for t in texts]
    assert out["words"].tolist() == [len(t.split()) for t in texts]
    assert set(out["refusal_class"]) <= {"compliance", "partial_refusal", "full_refusal"}


def test_user_rules_per_model_and_disable() -> None:
    frame = pd.DataFrame(
        {
            "response": ["ACME POLICY forbids this answer.", "ACME policy forbids this answer.", "Sorry, but I can't."],
            "model": ["acme-7b", "other", "acme-7b"],
        },
        index=[10, 5, 7],
    )
    cfg = SignalConfig(
        extra_refusal_rules=[
            {"name": "acme", "family": "policy_safety", "pattern": r"acme policy forbids", "models": ["acme-*"]}
        ],
        disabled_refusal_rules={"en_apology_inability", "en_inability"},
    )
    out = derive_signals(frame, cfg)
    assert list(out.index) == [10, 5, 7]
    assert out["refusal_rule"].tolist() == ["acme", None, None]
    assert out["refusal"].tolist() == [True, False, False]


def test_bad_user_rule_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad"):
        derive_signals(pd.DataFrame({"response": ["x"]}),
                       SignalConfig(extra_refusal_rules=[{"name": "bad", "family": "f", "pattern": "(unclosed"}]))
    with pytest.raises(ValueError, match="position"):
        SignalConfig(extra_refusal_rules=[{"name": "p", "family": "f", "pattern": "x", "position": "end"}]).validate()


def test_count_partial_as_refusal() -> None:
    text = "I can't write that essay for you. However, I can suggest an outline: 1. Intro 2. Body."
    frame = pd.DataFrame({"response": [text]})
    assert derive_signals(frame)["refusal_class"].iat[0] == "partial_refusal"
    assert not derive_signals(frame)["refusal"].iat[0]
    assert derive_signals(frame, SignalConfig(count_partial_as_refusal=True))["refusal"].iat[0]


def test_active_rules_order() -> None:
    rules = active_rules([{"name": "mine", "family": "x", "pattern": "foo"}])
    assert rules[0].name == "mine" and rules[0].pattern == "(?i)foo"


def test_hostile_text_is_bounded() -> None:
    import time

    huge = "I'm sorry, but I can't help with that. " + "x" * 10_000_000
    deep = "```\n" * 50_000 + '"' * 100_000 + "> quote\n" * 20_000
    t = time.perf_counter()
    out = text_signals([huge, deep, "\u2019" * 1_000_000])
    assert time.perf_counter() - t < 10
    assert out["refusal_class"].tolist()[0] == "full_refusal"
    assert out["chars"].tolist() == [len(huge), len(deep), 1_000_000]


def test_null_and_odd_inputs() -> None:
    frame = pd.DataFrame({"response": ["ok", None], "model": [None, float("nan")],
                          "expects_json": [None, True], "finish_reason": [float("nan"), None]})
    out = derive_signals(frame)
    assert out["chars"].tolist() == [2, 0]
    assert out["parse_status"].tolist() == ["not_expected", "not_json"]
    empty = derive_signals(pd.DataFrame({"response": pd.Series([], dtype=object)}))
    assert list(empty.columns) == ["chars", "words", "refusal", "refusal_class", "refusal_rule", "refusal_span",
                                   "expects_json", "parse_status", "parse_error", "parse_failed"]
    assert len(empty) == 0


def test_builtin_rules_never_match_an_empty_string() -> None:
    # the engine relies on it to run the opening rules in chunks without parsing each pattern
    from monitor.signals.refusal import RULES, _never_empty

    assert RULES and all(_never_empty(r.pattern) for r in RULES)
