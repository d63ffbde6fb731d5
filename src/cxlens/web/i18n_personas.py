"""German and English of the personas page; merged
into :data:`cxlens.web.i18n.MESSAGES` (keys it already has win)."""

from __future__ import annotations

from typing import Final, Literal

PERSONA_MESSAGES: Final[dict[str, dict[Literal["de", "en"], str]]] = {
    "nav.personas": {"de": "Personas", "en": "Personas"},
    "personas.title": {"de": "Personas", "en": "Personas"},
    "personas.intro": {
        "de": "Gruppen von Personen, die sich ähnlich verhalten, automatisch aus Kanälen, Geräten, Kategorien, "
              "Preisniveau und Besuchsmuster gefunden und daran beschrieben, was sie vom Rest unterscheidet.",
        "en": "Groups of people who behave alike, found automatically from channels, devices, categories, "
              "price level and visit pattern, and described by what sets them apart from everyone else."},
    "personas.none": {"de": "Noch keine Personas für dieses Projekt. Erzeugen mit: cxlens personas discover -p {project}",
                      "en": "No personas for this project yet. Create them with: cxlens personas discover -p {project}"},
    "personas.summary": {"de": "{persons} Personen, davon {unassigned} keiner Persona zugeordnet (Lauf {run}).",
                         "en": "{persons} persons, {unassigned} of them in no persona (run {run})."},
    "personas.size": {"de": "Personen", "en": "Persons"},
    "personas.share": {"de": "Anteil", "en": "Share"},
    "personas.revenue": {"de": "Umsatzanteil", "en": "Share of revenue"},
    "personas.stages": {"de": "Am weitesten gekommen bis", "en": "Furthest stage reached"},
    "personas.open_journey": {"de": "Journey-Map von „{name}“ öffnen", "en": "Open the journey map of “{name}”"},
    "personas.stage.awareness": {"de": "Aufmerksamkeit", "en": "Awareness"},
    "personas.stage.consideration": {"de": "Abwägung", "en": "Consideration"},
    "personas.stage.decision": {"de": "Kauf", "en": "Purchase"},
    "personas.stage.fulfillment": {"de": "Lieferung", "en": "Delivery"},
    "personas.stage.renewal": {"de": "Wiederkauf", "en": "Repeat purchase"},
    "personas.drift.new": {"de": "neu", "en": "new"},
    "personas.drift.grew": {"de": "gewachsen", "en": "grew"},
    "personas.drift.shrank": {"de": "geschrumpft", "en": "shrank"},
    "personas.drift.stable": {"de": "stabil", "en": "stable"},
    "personas.drift.split_from": {"de": "abgespalten", "en": "split off"},
    "personas.drift.merged_from": {"de": "zusammengelegt", "en": "merged"},
}
