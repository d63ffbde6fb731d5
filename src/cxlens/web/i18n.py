"""German and English for the dashboard and reports.

The catalogue is a typed dict in code rather than gettext .po files: two languages and a
few hundred short strings do not need a build step, and a missing key is a KeyError in
the tests instead of an English word slipping into a German page. Numbers, currencies,
percentages and dates go through Babel, so that German readers see ``1.234,56 €`` and
English readers ``€1,234.56``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final, Literal

from babel import Locale, dates, numbers

Lang = Literal["de", "en"]
LANGS: Final[tuple[Lang, ...]] = ("de", "en")
DEFAULT_LANG: Final[Lang] = "en"
_LOCALES: Final[dict[Lang, str]] = {"de": "de_DE", "en": "en_GB"}

MESSAGES: Final[dict[str, dict[Lang, str]]] = {
    # navigation and chrome
    "app.title": {"de": "cxlens \u2013 Kundenerlebnis", "en": "cxlens \u2013 customer experience"},
    "nav.overview": {"de": "Übersicht", "en": "Overview"},
    "nav.journey": {"de": "Journey-Map", "en": "Journey map"},
    "nav.funnels": {"de": "Trichter", "en": "Funnels"},
    "nav.paths": {"de": "Pfade", "en": "Paths"},
    "nav.graph": {"de": "Journey-Graph", "en": "Journey graph"},
    "nav.retention": {"de": "Kundenbindung", "en": "Retention"},
    "nav.profiles": {"de": "Profile", "en": "Profiles"},
    "nav.data": {"de": "Daten", "en": "Data"},
    "nav.main": {"de": "Hauptnavigation", "en": "Main navigation"},
    "nav.skip": {"de": "Zum Inhalt springen", "en": "Skip to content"},
    "lang.switch": {"de": "Sprache", "en": "Language"},
    "project": {"de": "Projekt", "en": "Project"},
    "period": {"de": "Zeitraum", "en": "Period"},
    "period.7": {"de": "Letzte 7 Tage", "en": "Last 7 days"},
    "period.30": {"de": "Letzte 30 Tage", "en": "Last 30 days"},
    "period.90": {"de": "Letzte 90 Tage", "en": "Last 90 days"},
    "period.range": {"de": "{start} bis {end}, verglichen mit {pstart} bis {pend}",
                     "en": "{start} to {end}, compared with {pstart} to {pend}"},
    "apply": {"de": "Anwenden", "en": "Apply"},
    "persona": {"de": "Persona", "en": "Persona"},
    "persona.all": {"de": "Alle Personen", "en": "Everyone"},
    "overview.by_persona": {"de": "Kennzahlen je Persona", "en": "KPIs by persona"},
    "logout": {"de": "Abmelden", "en": "Sign out"},
    "signed_in_as": {"de": "Angemeldet als {user} ({role})", "en": "Signed in as {user} ({role})"},
    "role.viewer": {"de": "Betrachter", "en": "viewer"},
    "role.admin": {"de": "Administrator", "en": "admin"},
    # login
    "login.title": {"de": "Anmelden", "en": "Sign in"},
    "login.user": {"de": "Benutzername", "en": "User name"},
    "login.password": {"de": "Passwort", "en": "Password"},
    "login.submit": {"de": "Anmelden", "en": "Sign in"},
    "login.failed": {"de": "Benutzername oder Passwort ist falsch.",
                     "en": "User name or password is wrong."},
    "login.limited": {"de": "Zu viele Anmeldeversuche. Bitte in einer Minute erneut versuchen.",
                      "en": "Too many sign-in attempts. Please try again in a minute."},
    "login.csrf": {"de": "Das Formular ist abgelaufen. Bitte erneut senden.",
                   "en": "The form has expired. Please submit it again."},
    "login.required": {"de": "Bitte Benutzername und Passwort eingeben.",
                       "en": "Please enter user name and password."},
    "forbidden": {"de": "Kein Zugriff auf dieses Projekt.", "en": "No access to this project."},
    "admin_only": {"de": "Nur für Administratoren.", "en": "Administrators only."},
    "no_projects": {"de": "Ihrem Konto ist kein Projekt zugeordnet.",
                    "en": "Your account has no project."},
    # charts and tables
    "table.label": {"de": "Tabelle: {title}", "en": "Table: {title}"},
    "filters": {"de": "Filter", "en": "Filters"},
    "table.show": {"de": "Als Tabelle anzeigen", "en": "Show as table"},
    "export.csv": {"de": "CSV exportieren", "en": "Export CSV"},
    "no_data": {"de": "Keine Daten im gewählten Zeitraum.", "en": "No data in this period."},
    "chart.label": {"de": "Diagramm: {title}", "en": "Chart: {title}"},
    # KPIs
    "kpi.visitors": {"de": "Besucher", "en": "Visitors"},
    "kpi.conversion_rate": {"de": "Conversion-Rate", "en": "Conversion rate"},
    "kpi.revenue": {"de": "Umsatz", "en": "Revenue"},
    "kpi.orders": {"de": "Bestellungen", "en": "Orders"},
    "kpi.average_order_value": {"de": "Ø Bestellwert", "en": "Average order value"},
    "kpi.repeat_purchase_rate": {"de": "Wiederkaufrate", "en": "Repeat-purchase rate"},
    "kpi.churn_rate": {"de": "Abwanderung", "en": "Churn"},
    "kpi.nps": {"de": "NPS", "en": "NPS"},
    "kpi.csat": {"de": "CSAT (zufrieden)", "en": "CSAT (satisfied)"},
    "kpi.previous": {"de": "Vorperiode: {value}", "en": "Previous period: {value}"},
    "kpi.target": {"de": "Ziel {target}", "en": "Target {target}"},
    "kpi.target_missed": {"de": "Ziel verfehlt", "en": "Target missed"},
    "kpi.target_met": {"de": "Ziel erreicht", "en": "Target met"},
    "kpi.trend": {"de": "Verlauf pro Tag", "en": "Trend per day"},
    "kpi.day": {"de": "Tag", "en": "Day"},
    "kpi.kpi": {"de": "Kennzahl", "en": "KPI"},
    "kpi.current": {"de": "Aktuell", "en": "Current"},
    "kpi.prev": {"de": "Vorperiode", "en": "Previous"},
    "kpi.change": {"de": "Veränderung", "en": "Change"},
    "kpi.status": {"de": "Status", "en": "Status"},
    "overview.title": {"de": "Übersicht", "en": "Overview"},
    "overview.daily": {"de": "Besucher, Bestellungen und Umsatz pro Tag",
                       "en": "Visitors, orders and revenue per day"},
    "overview.alert_sent": {"de": "Alarm für verfehlte Ziele gesendet.",
                            "en": "Alert for missed targets sent."},
    "overview.send_alert": {"de": "Alarm jetzt senden", "en": "Send alert now"},
    "overview.no_alert_channel": {"de": "Kein Alarmkanal konfiguriert ([alerts] in cxlens.toml).",
                                  "en": "No alert channel configured ([alerts] in cxlens.toml)."},
    # journey map
    "journey.title": {"de": "Journey-Map", "en": "Journey map"},
    "journey.intro": {
        "de": "Phasen als Spalten, Kanäle als Zeilen. Jede Zelle: Personen, die die Phase über "
              "diesen Kanal erreichten, Anteil, der die nächste Phase erreicht, und die mittlere "
              "Zeit bis dahin. Rot heißt viele Abbrüche. Zelle anklicken für Personen und Ereignisse.",
        "en": "Stages as columns, channels as rows. Each cell: persons who reached the stage "
              "through this channel, the share who reach the next stage and the median time to "
              "it. Red means many drop off. Click a cell for the persons and events behind it."},
    "journey.channel": {"de": "Kanal", "en": "Channel"},
    "journey.touchpoint": {"de": "Touchpoint", "en": "Touchpoint"},
    "journey.rows": {"de": "Zeilen", "en": "Rows"},
    "journey.stage": {"de": "Phase", "en": "Stage"},
    "journey.persons": {"de": "Personen", "en": "Persons"},
    "journey.to_next": {"de": "weiter", "en": "onward"},
    "journey.median": {"de": "Median-Zeit", "en": "median time"},
    "journey.dropoff": {"de": "Abbruch", "en": "Drop-off"},
    "journey.total": {"de": "Gesamt", "en": "All"},
    "journey.cell": {"de": "{stage} über {channel}", "en": "{stage} via {channel}"},
    "journey.cell_persons": {"de": "Personen (bis 100)", "en": "Persons (up to 100)"},
    "journey.cell_events": {"de": "Ereignisse dieser Personen in der Phase",
                            "en": "These persons' events in the stage"},
    "journey.sentiment": {"de": "Stimmung", "en": "Sentiment"},
    "journey.dropoffs": {"de": "Größte Abbrüche", "en": "Biggest drop-offs"},
    "stage.awareness": {"de": "Aufmerksamkeit", "en": "Awareness"},
    "stage.consideration": {"de": "Erwägung", "en": "Consideration"},
    "stage.purchase": {"de": "Kauf", "en": "Purchase"},
    "stage.delivery": {"de": "Lieferung", "en": "Delivery"},
    "stage.service": {"de": "Service", "en": "Service"},
    "stage.loyalty": {"de": "Treue", "en": "Loyalty"},
    # funnels
    "funnel.title": {"de": "Trichter", "en": "Funnels"},
    "funnel.step": {"de": "Schritt {n}", "en": "Step {n}"},
    "funnel.none": {"de": "\u2013 keiner \u2013", "en": "\u2013 none \u2013"},
    "funnel.window": {"de": "Zeitfenster", "en": "Conversion window"},
    "funnel.breakdown": {"de": "Aufschlüsseln nach", "en": "Break down by"},
    "funnel.run": {"de": "Trichter berechnen", "en": "Build funnel"},
    "funnel.mode": {"de": "Reihenfolge", "en": "Step order"},
    "funnel.mode_ordered": {"de": "in dieser Reihenfolge", "en": "in this order"},
    "funnel.mode_strict": {"de": "direkt nacheinander", "en": "directly one after another"},
    "funnel.mode_unordered": {"de": "beliebige Reihenfolge", "en": "any order"},
    "funnel.exclude": {"de": "Ausschließen, wenn dazwischen", "en": "Exclude if in between"},
    "funnel.saved": {"de": "Gespeicherte Trichter", "en": "Saved funnels"},
    "funnel.name": {"de": "Name des Trichters", "en": "Funnel name"},
    "funnel.save": {"de": "Trichter speichern", "en": "Save funnel"},
    "funnel.delete": {"de": "„{name}“ löschen", "en": "Delete “{name}”"},
    "funnel.notice_saved": {"de": "Trichter gespeichert.", "en": "Funnel saved."},
    "funnel.notice_deleted": {"de": "Trichter gelöscht.", "en": "Funnel deleted."},
    "funnel.persons": {"de": "Personen", "en": "Persons"},
    "funnel.conversion": {"de": "Conversion", "en": "Conversion"},
    "funnel.from_previous": {"de": "vom vorigen Schritt", "en": "from previous step"},
    "funnel.dropped": {"de": "Abgebrochen", "en": "Dropped"},
    "funnel.median": {"de": "Median-Zeit vom vorigen", "en": "Median time from previous"},
    "funnel.need_steps": {"de": "Bitte mindestens zwei Schritte wählen.",
                          "en": "Please pick at least two steps."},
    "funnel.by": {"de": "Conversion nach {field}", "en": "Conversion by {field}"},
    # paths / graph / retention
    "paths.title": {"de": "Pfade", "en": "Paths"},
    "paths.start": {"de": "Beginnt mit", "en": "Starts with"},
    "paths.any": {"de": "\u2013 beliebig \u2013", "en": "\u2013 any \u2013"},
    "paths.steps": {"de": "Schritte", "en": "Steps"},
    "paths.top": {"de": "Häufigste Pfade", "en": "Most frequent paths"},
    "paths.path": {"de": "Pfad", "en": "Path"},
    "paths.share": {"de": "Anteil Personen", "en": "Share of persons"},
    "graph.title": {"de": "Journey-Graph", "en": "Journey graph"},
    "graph.edges": {"de": "Häufigste Übergänge", "en": "Most frequent transitions"},
    "graph.from": {"de": "Von", "en": "From"},
    "graph.to": {"de": "Nach", "en": "To"},
    "graph.count": {"de": "Anzahl", "en": "Count"},
    "graph.median": {"de": "Median-Dauer", "en": "Median duration"},
    "graph.variants": {"de": "Häufigste Varianten", "en": "Most frequent variants"},
    "retention.title": {"de": "Kundenbindung", "en": "Retention"},
    "retention.heatmap": {"de": "Wiederkauf nach Kohorte (Monat des Erstkaufs)",
                          "en": "Repeat purchase by cohort (month of first order)"},
    "retention.lifecycle": {"de": "Käufer je Monat: neu, wiederkehrend, reaktiviert, inaktiv",
                            "en": "Buyers per month: new, returning, resurrected, dormant"},
    "retention.new": {"de": "Neu", "en": "New"},
    "retention.returning": {"de": "Wiederkehrend", "en": "Returning"},
    "retention.resurrected": {"de": "Reaktiviert", "en": "Resurrected"},
    "retention.dormant": {"de": "Inaktiv", "en": "Dormant"},
    "retention.repeat": {"de": "Wiederkaufrate {rate} von {buyers} Käufern im gesamten Zeitraum.",
                         "en": "Repeat-purchase rate {rate} of {buyers} buyers over all time."},
    "col.period": {"de": "Zeitraum", "en": "Period"},
    "retention.cohort": {"de": "Kohorte", "en": "Cohort"},
    "retention.size": {"de": "Kunden", "en": "Customers"},
    "retention.month": {"de": "Monat {n}", "en": "Month {n}"},
    # profiles
    "profiles.title": {"de": "Profile", "en": "Profiles"},
    "profiles.search": {"de": "Suche nach Kunden-ID, anonymer ID, E-Mail oder Firmenkonto",
                        "en": "Search by customer id, anonymous id, e-mail or account"},
    "profiles.find": {"de": "Suchen", "en": "Search"},
    "profiles.results": {"de": "Treffer", "en": "Matches"},
    "profiles.timeline": {"de": "Zeitleiste über alle Kanäle", "en": "Timeline across channels"},
    "profiles.identity": {"de": "Identitäts-Erklärung", "en": "Identity explanation"},
    "profiles.consent": {"de": "Einwilligungen", "en": "Consent"},
    "profiles.no_consent": {"de": "Keine Einwilligungsereignisse.", "en": "No consent events."},
    "profiles.not_found": {"de": "Keine Person gefunden.", "en": "No person found."},
    "profiles.ids": {"de": "Kennungen", "en": "Identifiers"},
    "profiles.account": {"de": "Firmenkonto", "en": "Account"},
    "profiles.accounts": {"de": "Firmenkonten", "en": "Accounts"},
    "profiles.no_account": {"de": "Kein Firmenkonto mit dieser ID.", "en": "No account with this id."},
    "profiles.industry": {"de": "Branche", "en": "Industry"},
    "profiles.size": {"de": "Mitarbeiter", "en": "Employees"},
    "profiles.country": {"de": "Land", "en": "Country"},
    "profiles.buying_centre": {"de": "Buying Center", "en": "Buying centre"},
    "profiles.members": {"de": "Personen des Kontos", "en": "People of the account"},
    "profiles.role": {"de": "Rolle", "en": "Role"},
    "profiles.job_title": {"de": "Position", "en": "Title"},
    "profiles.no_identity": {"de": "Identitäten noch nicht aufgelöst (cxlens identity resolve).",
                             "en": "Identities not resolved yet (cxlens identity resolve)."},
    "col.time": {"de": "Zeit", "en": "Time"},
    "col.event": {"de": "Ereignis", "en": "Event"},
    "col.type": {"de": "Typ", "en": "Type"},
    "col.channel": {"de": "Kanal", "en": "Channel"},
    "col.source": {"de": "Quelle", "en": "Source"},
    "col.revenue": {"de": "Umsatz", "en": "Revenue"},
    "col.person": {"de": "Person", "en": "Person"},
    "col.events": {"de": "Ereignisse", "en": "Events"},
    "col.first_seen": {"de": "Zuerst gesehen", "en": "First seen"},
    "col.last_seen": {"de": "Zuletzt gesehen", "en": "Last seen"},
    # data
    "data.title": {"de": "Daten", "en": "Data"},
    "data.sources": {"de": "Ereignisse pro Quelle", "en": "Events per source"},
    "data.volume": {"de": "Ereignisse pro Tag und Quelle", "en": "Events per day and source"},
    "data.batches": {"de": "Import-Historie", "en": "Import history"},
    "data.rejects": {"de": "Abgelehnte Zeilen", "en": "Rejected rows"},
    "data.health": {"de": "Collector-Zustand", "en": "Collector health"},
    "data.kind": {"de": "Art", "en": "Kind"},
    "data.started": {"de": "Begonnen", "en": "Started"},
    "data.rows_in": {"de": "Zeilen", "en": "Rows"},
    "data.inserted": {"de": "Eingefügt", "en": "Inserted"},
    "data.duplicates": {"de": "Duplikate", "en": "Duplicates"},
    "data.rejected": {"de": "Abgelehnt", "en": "Rejected"},
    "data.file": {"de": "Datei", "en": "File"},
    "data.size": {"de": "Größe", "en": "Size"},
    "data.metric": {"de": "Messwert", "en": "Metric"},
    "data.value": {"de": "Wert", "en": "Value"},
    "data.none": {"de": "Keine.", "en": "None."},
    # table columns (CSV keys stay English; the page shows these)
    "col.kpi": {"de": "Kennzahl", "en": "KPI"},
    "col.current": {"de": "Aktuell", "en": "Current"},
    "col.previous": {"de": "Vorperiode", "en": "Previous"},
    "col.change": {"de": "Veränderung", "en": "Change"},
    "col.target": {"de": "Ziel", "en": "Target"},
    "col.status": {"de": "Status", "en": "Status"},
    "col.day": {"de": "Tag", "en": "Day"},
    "col.visitors": {"de": "Besucher", "en": "Visitors"},
    "col.orders": {"de": "Bestellungen", "en": "Orders"},
    "col.stage": {"de": "Phase", "en": "Stage"},
    "col.persons": {"de": "Personen", "en": "Persons"},
    "col.advanced": {"de": "Weiter", "en": "Advanced"},
    "col.conversion_to_next": {"de": "Anteil weiter", "en": "Share onward"},
    "col.median_seconds_to_next": {"de": "Median-Zeit", "en": "Median time"},
    "col.sentiment": {"de": "Stimmung", "en": "Sentiment"},
    "col.dropped": {"de": "Abgebrochen", "en": "Dropped"},
    "col.dropoff": {"de": "Abbruchquote", "en": "Drop-off rate"},
    "col.step": {"de": "Schritt", "en": "Step"},
    "col.name": {"de": "Name", "en": "Name"},
    "col.conversion": {"de": "Conversion", "en": "Conversion"},
    "col.from_previous": {"de": "vom vorigen Schritt", "en": "From previous step"},
    "col.median_seconds_from_previous": {"de": "Median-Zeit vom vorigen",
                                         "en": "Median time from previous"},
    "col.value": {"de": "Wert", "en": "Value"},
    "col.count": {"de": "Anzahl", "en": "Count"},
    "col.share_of_persons": {"de": "Anteil Personen", "en": "Share of persons"},
    "col.path": {"de": "Pfad", "en": "Path"},
    "col.variant": {"de": "Variante", "en": "Variant"},
    "col.share": {"de": "Anteil", "en": "Share"},
    "col.median_seconds": {"de": "Median-Dauer", "en": "Median duration"},
    "col.cohort": {"de": "Kohorte", "en": "Cohort"},
    "col.customers": {"de": "Kunden", "en": "Customers"},
    "col.first": {"de": "Zuerst", "en": "First"},
    "col.last": {"de": "Zuletzt", "en": "Last"},
    # channels as managers say them
    "channel.direct": {"de": "Direkt", "en": "Direct"},
    "channel.organic_search": {"de": "Organische Suche", "en": "Organic search"},
    "channel.paid_search": {"de": "Bezahlte Suche", "en": "Paid search"},
    "channel.organic_social": {"de": "Social Media", "en": "Organic social"},
    "channel.paid_social": {"de": "Social Ads", "en": "Paid social"},
    "channel.email": {"de": "E-Mail", "en": "E-mail"},
    "channel.referral": {"de": "Verweise", "en": "Referral"},
    "channel.display": {"de": "Display", "en": "Display"},
    "channel.affiliate": {"de": "Affiliate", "en": "Affiliate"},
    "channel.delivery": {"de": "Lieferung", "en": "Delivery"},
    "channel.support": {"de": "Kundenservice", "en": "Support"},
    "channel.survey": {"de": "Umfrage", "en": "Survey"},
    "channel.store": {"de": "Filiale", "en": "Store"},
    "channel.sales": {"de": "Vertrieb", "en": "Sales"},
    "channel.app": {"de": "App", "en": "App"},
    "channel.process": {"de": "Prozess", "en": "Process"},
    "error.title": {"de": "Fehler", "en": "Error"},
    "error.not_found": {"de": "Seite nicht gefunden.", "en": "Page not found."},
}


def t(lang: Lang, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` with ``{name}`` placeholders filled in."""
    text = MESSAGES[key][lang]
    return text.format(**values) if values else text


def has(key: str) -> bool:
    return key in MESSAGES


def stage_label(lang: Lang, stage: str) -> str:
    """A built-in stage in the reader's language; a journey definition's own stage names
    (already in the shop's language) as they are."""
    key = f"stage.{stage}"
    return t(lang, key) if key in MESSAGES else stage


def channel_label(lang: Lang, channel: str | None) -> str:
    """A channel as managers say it (``E-Mail``, ``Organische Suche``); unknown ones as is."""
    if channel is None:
        return ""
    key = f"channel.{channel}"
    return t(lang, key) if key in MESSAGES else channel


def parse_lang(value: str | None) -> Lang | None:
    if value in LANGS:
        return value  # type: ignore[return-value]
    return None


def negotiate(accept_language: str | None) -> Lang:
    """The language an ``Accept-Language`` header prefers among ours (quality-ordered)."""
    if not accept_language:
        return DEFAULT_LANG
    prefs: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        prefs.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(prefs):
        primary = tag.split("-")[0]
        if primary in LANGS:
            return primary  # type: ignore[return-value]
    return DEFAULT_LANG


class Fmt:
    """Babel formatting bound to one language (handed to templates as ``fmt``)."""

    def __init__(self, lang: Lang, currency: str = "EUR") -> None:
        self.lang = lang
        self.locale = Locale.parse(_LOCALES[lang])
        self.currency_code = currency

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "\u2013"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return numbers.format_decimal(value, format=fmt, locale=self.locale)

    def money(self, value: float | None, currency: str | None = None) -> str:
        if value is None:
            return "\u2013"
        return numbers.format_currency(value, currency or self.currency_code, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "\u2013"
        # German sets the sign apart with a no-break space (DIN 5008), English does not
        fmt = "#,##0" + ("." + "0" * digits if digits else "") + (
            "\u00a0%" if self.lang == "de" else "%")
        return numbers.format_percent(value, format=fmt, locale=self.locale)

    def change(self, value: float | None) -> str:
        """A relative change with its sign: +12,3 % / -4.0% (with a real minus sign)."""
        if value is None:
            return "\u2013"
        text = self.percent(abs(value))
        return ("+" if value >= 0 else "\u2212") + text

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return "\u2013"
        return dates.format_date(value, format="medium", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "\u2013"
        return dates.format_datetime(value, format="medium", locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "\u2013"
        return dates.format_timedelta(timedelta(seconds=seconds), threshold=1.1, format="short", locale=self.locale)


def _merge_voice() -> None:
    from cxlens.web.i18n_voice import VOICE_MESSAGES

    for key, texts in VOICE_MESSAGES.items():
        MESSAGES.setdefault(key, texts)


_merge_voice()


def _merge_personas() -> None:
    from cxlens.web.i18n_personas import PERSONA_MESSAGES

    for key, texts in PERSONA_MESSAGES.items():
        MESSAGES.setdefault(key, texts)


_merge_personas()
