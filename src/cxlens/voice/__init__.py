"""Voice of the customer: language, sentiment and aspects of feedback texts, offline.

    from cxlens.voice import sentiment, sentiment_batch
    sentiment("Die Lieferung kam viel zu spät").label   # 'negative'
"""

from __future__ import annotations

from cxlens.voice.language import detect_language
from cxlens.voice.sentiment import Sentiment, sentiment, sentiment_batch

__all__ = ["Sentiment", "detect_language", "sentiment", "sentiment_batch"]
