"""Surveys: NPS, CSAT, CES and custom questions in German and English, shown by the
snippet ``/cx-survey.js`` or a personal e-mail link, answered into ``feedback``.

    from cxlens.surveys import survey_from_dict, save_survey, list_surveys
"""

from __future__ import annotations

from cxlens.surveys.definitions import (
           Question,
           Survey,
           Targeting,
           Text,
           load_file,
           survey_from_dict,
)
from cxlens.surveys.store import delete_survey, get_survey, list_surveys, save_survey

__all__ = ["Question", "Survey", "Targeting", "Text", "delete_survey", "get_survey", "list_surveys",
           "load_file", "save_survey", "survey_from_dict"]
