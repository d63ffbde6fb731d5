"""The shipped German polarity lexicon: inflections, compound heads, and its features."""

from __future__ import annotations

from collections import Counter

from cxlens.voice.features import NO_POLAR, Indexer, text_features
from cxlens.voice.lexicon import Lexicon, german_lexicon
from cxlens.voice.sentiment import german_model, sentiment
from cxlens.voice.text import tokens


def test_inflected_forms_and_compound_heads_are_found() -> None:
    lex = Lexicon({"störung": -1, "ausfall": -1, "schön": 1, "gut": 1}, frozenset({"störung", "ausfall"}))
    assert lex.polarity("störung") == (-1, "w")
    assert lex.polarity("schönen") == (1, "w")  # inflection ending stripped
    assert lex.polarity("signalstörung") == (-1, "h")  # compound head
    assert lex.polarity("zugausfälle") == (0, "")  # umlaut plural: not guessed
    assert lex.polarity("weichenstörungen") == (-1, "h")  # plural of the head
    assert lex.polarity("gutschein") == (0, "")  # only nouns are heads, and only at the end
    assert lex.polarity("tag") == (0, "")


def test_shipped_lexicon_covers_common_words_and_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lex = german_lexicon()
    assert len(lex.words) > 5000
    assert lex.polarity("chaos")[0] == -1 and lex.polarity("pünktlich")[0] == 1
    assert lex.polarity("bahnchaos") == (-1, "h")
    small = Lexicon({"ärger": -1, "lob": 1}, frozenset({"ärger"}))
    small.save(tmp_path / "l.npz", "test")
    back = Lexicon.load(tmp_path / "l.npz")
    assert back.words == small.words and back.nouns == small.nouns


def test_lexicon_features_flip_under_negation_and_flag_texts_without_polar_words() -> None:
    assert "glh:neg" in text_features(tokens("Wieder eine Signalstörung"), "de")
    assert "glw:pos" in text_features(tokens("Das war angenehm"), "de")
    assert "glw:neg" in text_features(tokens("Das war nicht angenehm"), "de")
    assert NO_POLAR in text_features(tokens("Der Zug fährt um 10 Uhr ab Gleis 3"), "de")
    assert NO_POLAR not in text_features(tokens("Der Zug war pünktlich"), "de")


def test_indexer_matches_text_features_with_lexicon_boosts_and_flag() -> None:
    m = german_model()
    ix = Indexer(m.vocab)
    for text in ["Sehr angenehme Fahrt, aber extrem teure Tickets", "Weichenstörung in Hamm, kein Zugverkehr",
                 "Der Zug fährt um 10 Uhr", "nicht wirklich schön 😡"]:
        toks = tokens(text)
        assert Counter(ix.indices(toks, "de")) == Counter(m.indices(text_features(toks, "de")))


def test_compound_complaints_unseen_in_training_read_negative() -> None:
    assert sentiment("Schon wieder Bahnchaos und Weichenstörung", "de").label == "negative"


def test_sqrt_norm_divides_each_text_by_the_root_of_its_feature_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from cxlens.voice.linear import LinearModel

    w = np.array([[1, 0, 0], [0, 0, 2], [0, 1, 0]], dtype=np.float32)
    m = LinearModel({"a": 0, "b": 1, "c": 2}, w, np.zeros(3, dtype=np.float32), "t", "sqrt")
    z = m.logits([["a"], ["a", "b", "b", "c"], []])
    assert np.allclose(z[0], [1, 0, 0])
    assert np.allclose(z[1], np.array([1, 1, 4]) / 2.0)  # four known features: / sqrt(4)
    assert np.allclose(z[2], 0)
    m.save(tmp_path / "m.npz")
    back = LinearModel.load(tmp_path / "m.npz")
    assert back.norm == "sqrt" and np.allclose(back.logits([["a", "b", "b", "c"]]), z[1:2])
    plain = LinearModel({"a": 0}, w[:1], np.zeros(3, dtype=np.float32))
    assert np.allclose(plain.logits([["a", "a"]]), [[2, 0, 0]])  # default: a plain sum


def test_service_failures_and_recoveries_are_found_inside_compounds_and_flip_under_negation() -> None:
    from cxlens.voice.cxlexicon import cx_polarity

    for failure in ("lieferverzögerung", "bahnstreik", "signalstörungen", "unpünktlich", "delayed", "outage"):
        assert cx_polarity(failure) == -1, failure
    for recovery in ("behoben", "wiederhergestellt", "erstattet", "pünktlich", "refunded", "einigung"):
        assert cx_polarity(recovery) == 1, recovery
    for other in ("zeitspanne", "vereinigung", "paket", "gut"):  # no stem hidden inside a word
        assert cx_polarity(other) == 0, other
    feats = text_features(tokens("keine Verspätung, Störung behoben"), "de")
    assert "cx:pos" in feats and "cx:neg" in feats  # "keine Verspätung" flips, "Störung" stays
    assert feats.count("cx:pos") == 2
    assert "x:gerung" in text_features(tokens("Lieferverzögerung"), "de")  # the compound's head
    assert not any(f.startswith("x:") for f in text_features(tokens("Störung"), "de"))  # short: none
