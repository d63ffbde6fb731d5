"""Survey definitions: typed, validated, the same document from TOML, YAML, JSON or a form.

A survey asks about one touchpoint (and journey stage) and has one or more questions,
each with a German and an English text. Kinds and their fixed scales:

* ``nps``  0-10  ("How likely are you to recommend ...")
* ``csat`` 1-5   (satisfaction)
* ``ces``  1-7   (customer effort)
* ``scale`` min-max of your choice (at most 0-10)
* ``single`` / ``multi``: choices, each with an ``id`` and DE/EN texts
* ``text``: free text (attached to the scored question before it)

Targeting says when the snippet shows it: on an event, when a journey stage is
reached, or after some seconds on a page; on which URLs; at most once per
``every_days`` per person and never after ``max_answers`` answers; to a ``sample`` share
of the persons. Consent is always required: the snippet shows nothing without it.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from cxlens.errors import ValidationError
from cxlens.textfile import read_user_text

Kind = Literal["nps", "csat", "ces", "scale", "single", "multi", "text"]
KINDS: Final[tuple[str, ...]] = ("nps", "csat", "ces", "scale", "single", "multi", "text")
#: kinds with a fixed scale
SCALES: Final[dict[str, tuple[int, int]]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
SCORED: Final[frozenset[str]] = frozenset({"nps", "csat", "ces", "scale"})
TRIGGERS: Final[tuple[str, ...]] = ("event", "stage", "seconds")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_QUESTIONS: Final = 10
MAX_TEXT: Final = 500


@dataclass(frozen=True, slots=True)
class Text:
    de: str
    en: str

    def get(self, lang: str) -> str:
        return self.de if lang == "de" else self.en


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    text: Text


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: Kind
    text: Text
    min: int | None = None  # scored kinds only
    max: int | None = None
    options: tuple[Choice, ...] = ()
    required: bool = False
    #: labels of the ends of a scale ("not likely" / "very likely")
    low_label: Text | None = None
    high_label: Text | None = None

    @property
    def scored(self) -> bool:
        return self.kind in SCORED


@dataclass(frozen=True, slots=True)
class Targeting:
    trigger: Literal["event", "stage", "seconds"] = "seconds"
    event: str | None = None  # trigger = event: the event name
    stage: str | None = None  # trigger = stage: the journey stage
    seconds: float = 0.0  # delay; trigger = seconds: time on the page
    url: str | None = None  # "*" is a wildcard; matched against path + query
    every_days: float = 90.0  # frequency cap: shown at most once per N days per person
    max_answers: int = 1  # never again after this many answers of one person
    sample: float = 1.0  # share of persons who may see it


@dataclass(frozen=True, slots=True)
class Survey:
    id: str
    name: str
    questions: tuple[Question, ...]
    touchpoint: str
    stage: str | None = None
    targeting: Targeting = field(default_factory=Targeting)
    active: bool = True
    version: int = 0  # set by the store on every save
    created_at: float = 0.0
    created_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)


def _str(doc: dict[str, Any], key: str, where: str, *, required: bool = True,
         limit: int = MAX_TEXT) -> str | None:
    value = doc.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{where}{key} is missing; give it a value", field=f"{where}{key}")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{where}{key} must be text, got {value!r}", field=f"{where}{key}")
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"{where}{key} is longer than {limit} characters; shorten it",
                              field=f"{where}{key}")
    return value


def _ident(doc: dict[str, Any], key: str, where: str) -> str:
    value = _str(doc, key, where, limit=63)
    assert value is not None
    if not _ID.match(value):
        raise ValidationError(f"{where}{key} {value!r} must be lower-case letters, digits, - or _ "
                              "(starting with a letter or digit)", field=f"{where}{key}")
    return value


def _text(value: Any, where: str, *, required: bool = True) -> Text | None:
    if value is None and not required:
        return None
    if isinstance(value, str):  # one text for both languages is a mistake we name
        raise ValidationError(f"{where} needs a German and an English text: {{de = \"…\", en = \"…\"}}",
                              field=where)
    if not isinstance(value, dict):
        raise ValidationError(f"{where} must be {{de = \"…\", en = \"…\"}}", field=where)
    de = _str(value, "de", f"{where}.")
    en = _str(value, "en", f"{where}.")
    assert de is not None and en is not None
    return Text(de, en)


def _int(doc: dict[str, Any], key: str, where: str, default: int | None) -> int | None:
    value = doc.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValidationError(f"{where}{key} must be a whole number, got {value!r}", field=f"{where}{key}")
    return int(value)


def _number(doc: dict[str, Any], key: str, where: str, default: float, low: float,
            high: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(f"{where}{key} must be a number from {low:g} to {high:g}, got {value!r}",
                              field=f"{where}{key}")
    return float(value)


def _question(doc: Any, i: int) -> Question:
    where = f"questions[{i}]."
    if not isinstance(doc, dict):
        raise ValidationError(f"questions[{i}] must be a table with id, kind and text", field=f"questions[{i}]")
    qid = _ident(doc, "id", where)
    kind = _str(doc, "kind", where)
    if kind not in KINDS:
        raise ValidationError(f"{where}kind {kind!r} is not one of {', '.join(KINDS)}", field=f"{where}kind")
    text = _text(doc.get("text"), f"{where}text")
    assert text is not None
    lo, hi = None, None
    if kind in SCALES:
        lo, hi = SCALES[kind]
        for k, v in (("min", lo), ("max", hi)):
            if k in doc and doc[k] != v:
                raise ValidationError(f"{where}{k}: a {kind} question always runs {lo}-{hi}; "
                                      f"use kind = \"scale\" for another range", field=f"{where}{k}")
    elif kind == "scale":
        lo, hi = _int(doc, "min", where, 1), _int(doc, "max", where, 5)
        assert lo is not None and hi is not None
        if not 0 <= lo < hi <= 10:
            raise ValidationError(f"{where}min/max: a scale runs from 0 or more to at most 10 "
                                  f"with min < max, got {lo}-{hi}", field=f"{where}max")
    options: list[Choice] = []
    if kind in ("single", "multi"):
        raw = doc.get("options")
        if not isinstance(raw, list) or len(raw) < 2:
            raise ValidationError(f"{where}options: a {kind} question needs at least two options "
                                  "[{id = \"…\", text = {de = \"…\", en = \"…\"}}, …]", field=f"{where}options")
        for j, o in enumerate(raw):
            ow = f"{where}options[{j}]."
            if not isinstance(o, dict):
                raise ValidationError(f"{ow[:-1]} must be a table with id and text", field=ow[:-1])
            ot = _text(o.get("text"), f"{ow}text")
            assert ot is not None
            options.append(Choice(_ident(o, "id", ow), ot))
        if len({o.id for o in options}) != len(options):
            raise ValidationError(f"{where}options: option ids must be unique", field=f"{where}options")
    elif doc.get("options"):
        raise ValidationError(f"{where}options: only single and multi questions have options",
                              field=f"{where}options")
    required = doc.get("required", False)
    if not isinstance(required, bool):
        raise ValidationError(f"{where}required must be true or false", field=f"{where}required")
    low = _text(doc.get("low_label"), f"{where}low_label", required=False)
    high = _text(doc.get("high_label"), f"{where}high_label", required=False)
    return Question(qid, kind, text, lo, hi, tuple(options), required, low, high)  # type: ignore[arg-type]


def _targeting(doc: Any) -> Targeting:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ValidationError("targeting must be a table (trigger, event, stage, seconds, url, "
                              "every_days, max_answers, sample)", field="targeting")
    w = "targeting."
    unknown = set(doc) - {f for f in Targeting.__dataclass_fields__}
    if unknown:
        raise ValidationError(f"targeting has unknown keys {sorted(unknown)}; use "
                              f"{', '.join(Targeting.__dataclass_fields__)}", field=f"{w}{sorted(unknown)[0]}")
    trigger = doc.get("trigger", "seconds")
    if trigger not in TRIGGERS:
        raise ValidationError(f"{w}trigger {trigger!r} is not one of {', '.join(TRIGGERS)}",
                              field=f"{w}trigger")
    event = _str(doc, "event", w, required=trigger == "event", limit=200)
    stage = _str(doc, "stage", w, required=trigger == "stage", limit=100)
    url = _str(doc, "url", w, required=False, limit=300)
    max_answers = _int(doc, "max_answers", w, 1)
    if max_answers is None or max_answers < 1:
        raise ValidationError(f"{w}max_answers must be 1 or more", field=f"{w}max_answers")
    return Targeting(trigger, event if trigger == "event" else None, stage if trigger == "stage" else None,
                     _number(doc, "seconds", w, 0.0, 0.0, 3600.0), url,
                     _number(doc, "every_days", w, 90.0, 0.0, 3650.0), max_answers,
                     _number(doc, "sample", w, 1.0, 0.0, 1.0))


FIELDS: Final = ("id", "name", "touchpoint", "stage", "questions", "targeting", "active")


def survey_from_dict(doc: Any) -> Survey:
    """A validated :class:`Survey`; a mistake raises ValidationError naming the field."""
    if not isinstance(doc, dict):
        raise ValidationError("a survey must be a table/object with id, name, touchpoint and questions",
                              field="survey")
    unknown = set(doc) - set(FIELDS) - {"version", "created_at", "created_by"}
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationError(f"unknown survey key {key!r}; use {', '.join(FIELDS)}", field=key)
    sid = _ident(doc, "id", "")
    name = _str(doc, "name", "", limit=200)
    touchpoint = _str(doc, "touchpoint", "", limit=100)
    stage = _str(doc, "stage", "", required=False, limit=100)
    raw_q = doc.get("questions")
    if not isinstance(raw_q, list) or not raw_q:
        raise ValidationError("questions: a survey needs at least one question", field="questions")
    if len(raw_q) > MAX_QUESTIONS:
        raise ValidationError(f"questions: at most {MAX_QUESTIONS} questions", field="questions")
    questions = tuple(_question(q, i) for i, q in enumerate(raw_q))
    seen: set[str] = set()
    for i, q in enumerate(questions):
        if q.id in seen:
            raise ValidationError(f"questions[{i}].id {q.id!r} is used twice", field=f"questions[{i}].id")
        seen.add(q.id)
    targeting = _targeting(doc.get("targeting"))
    if targeting.trigger == "stage" and stage is None:
        stage = targeting.stage
    active = doc.get("active", True)
    if not isinstance(active, bool):
        raise ValidationError("active must be true or false", field="active")
    assert name is not None and touchpoint is not None
    return Survey(sid, name, questions, touchpoint, stage, targeting, active,
                  int(doc.get("version", 0) or 0), float(doc.get("created_at", 0.0) or 0.0),
                  str(doc.get("created_by", "") or ""))


def survey_to_doc(s: Survey) -> dict[str, Any]:
    """The document form (what files hold and ``--json`` prints), without empty fields."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None and x != () and x != []}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    doc: dict[str, Any] = clean(asdict(s))
    return doc


def load_file(path: Path) -> Survey:
    """A survey from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    try:
        raw = read_user_text(path, ValidationError, field="file")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}; pass an existing file", field="file") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            doc: Any = tomllib.loads(raw)
        elif suffix in (".yaml", ".yml"):
            doc = yaml.safe_load(raw)
        elif suffix == ".json":
            doc = json.loads(raw)
        else:
            raise ValidationError(f"{path.name}: use a .toml, .yaml or .json file", field="file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        msg = str(exc).splitlines()[0]
        raise ValidationError(f"{path.name} is not valid {suffix[1:].upper()}: {msg}", field="file") from exc
    return survey_from_dict(doc)


def with_meta(s: Survey, version: int, created_at: float, created_by: str) -> Survey:
    return replace(s, version=version, created_at=created_at, created_by=created_by)


def url_matches(pattern: str | None, path: str) -> bool:
    """The snippet's URL rule, for tests and the server: ``*`` matches anything, otherwise
    the pattern must match the whole path + query (without ``*``: a prefix match)."""
    if not pattern:
        return True
    if "*" not in pattern:
        return path.startswith(pattern)
    rx = "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$"
    return re.match(rx, path) is not None
