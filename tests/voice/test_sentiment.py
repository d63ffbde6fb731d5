"""Sentiment and language of single texts and batches, German and English."""

from __future__ import annotations

import pytest

from cxlens.errors import ValidationError
from cxlens.voice import detect_language, sentiment, sentiment_batch


@pytest.mark.parametrize(("text", "label"), [
    ("Die Lieferung kam viel zu spät, sehr ärgerlich.", "negative"),
    ("Super schnelle Lieferung, vielen Dank!", "positive"),
    ("Das Paket ist leider kaputt angekommen 😡", "negative"),
    ("Tolle Qualität, gerne wieder :)", "positive"),
    ("Terrible service, never again.", "negative"),
    ("Great shop, quick shipping and friendly support!", "positive"),
    ("The parcel arrived.", "neutral"),
])
def test_clear_feedback_gets_the_obvious_label(text: str, label: str) -> None:
    assert sentiment(text).label == label


def test_negation_turns_praise_into_criticism() -> None:
    good = sentiment("Der Service war gut.", "de")
    not_good = sentiment("Der Service war nicht gut.", "de")
    assert good.label == "positive"
    assert not_good.label == "negative"
    assert not_good.score < 0 < good.score


def test_spaet_alone_is_negative_although_gersent_lacks_it() -> None:
    assert sentiment("Paket kam zu spät", "de").label == "negative"


def test_language_is_detected_from_function_words_and_umlauts() -> None:
    assert detect_language("Die Ware kam pünktlich an") == "de"
    assert detect_language("The product arrived on time") == "en"
    assert detect_language("Größe passt") == "de"
    assert detect_language("👍", default="en") == "en"
    assert sentiment("I love this shop").language == "en"


def test_batch_equals_one_by_one_and_keeps_order() -> None:
    texts = ["Alles bestens!", "Never again, awful.", "Die Rechnung liegt bei.", ""]
    batch = sentiment_batch(texts)
    assert [b.label for b in batch] == [sentiment(t).label for t in texts]
    assert batch[0].label == "positive" and batch[1].label == "negative"
    assert all(-1.0 <= b.score <= 1.0 for b in batch)


def test_unsupported_language_is_a_one_line_error() -> None:
    with pytest.raises(ValidationError, match="not supported"):
        sentiment("bonjour", "fr")
    with pytest.raises(ValidationError, match="one per text"):
        sentiment_batch(["a", "b"], ["de"])


def test_fast_indexer_gives_exactly_the_features_the_model_was_trained_on() -> None:
    from collections import Counter

    from cxlens.voice.features import Indexer, text_features
    from cxlens.voice.sentiment import german_model
    from cxlens.voice.text import tokens

    m = german_model()
    ix = Indexer(m.vocab)
    for text in ["Die Lieferung war nicht sehr gut, aber der Service super!! :)",
                 "@user RT http://t.co/x Paket kam zu spät 😡", "", "ok"]:
        toks = tokens(text)
        assert Counter(ix.indices(toks, "de")) == Counter(m.indices(text_features(toks, "de")))
