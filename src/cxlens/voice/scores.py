"""NPS, CSAT and CES where they arise: by touchpoint, channel, stage, source or month,
each with a 95 % confidence interval.

* NPS = 100 · (promoters - detractors) / n over answers on a 0-10 scale. Its variance is
  that of a difference of two shares of one multinomial sample:
  (p + d - (p - d)²) / n, so the interval is NPS ± 1.96 · 100 · √that.
* CSAT = share of top-2-box answers (4-5 of 5; "good" of a good/bad rating), with the
  Wilson score interval, which stays inside 0-100 % for small groups.
* CES = mean effort score, ± 1.96 standard errors.
* Custom scale questions ("How easy was checkout? 1-7", kind ``custom`` with a score) are
  never mixed into NPS, CSAT or CES: each question (``<survey_id>/<question_id>`` and its
  scale) gets its own mean ± 1.96 standard errors.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from cxlens.errors import SpecError

Z: Final = 1.959964
#: grouping name -> SQL expression over the feedback columns (never user text)
GROUPS: Final = {
    "touchpoint": "coalesce(touchpoint, '(none)')",
    "channel": "coalesce(channel, '(none)')",
    "stage": "coalesce(json_extract_string(properties, '$.stage'), touchpoint, '(none)')",
    "source": "source",
    "kind": "kind",
    "month": "strftime(timestamp, '%Y-%m')",
    "week": "strftime(timestamp, '%G-W%V')",
    "persona": "coalesce(persona, '(none)')",
    "all": "'all'",
}
#: the custom scale question a feedback row answers (NULL for every other row)
QUESTION: Final = ("CASE WHEN kind = 'custom' AND score IS NOT NULL THEN coalesce("
                   "json_extract_string(properties, '$.survey_id') || '/' || "
                   "json_extract_string(properties, '$.question_id'), 'custom') END")


@dataclass(frozen=True, slots=True)
class Interval:
    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True, slots=True)
class ScaleScore:
    """The mean answer of one custom scale question in a group."""

    question: str  # "<survey_id>/<question_id>"
    scale_max: float | None
    mean: Interval


@dataclass(frozen=True, slots=True)
class GroupScores:
    group: str
    feedback: int
    nps: Interval | None
    csat: Interval | None
    ces: Interval | None
    promoters: int
    detractors: int
    #: custom scale questions, by question id; empty when the group has none
    scales: tuple[ScaleScore, ...] = ()

    def scale(self, question: str) -> ScaleScore | None:
        return next((s for s in self.scales if s.question == question), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def nps_interval(promoters: int, passives: int, detractors: int) -> Interval | None:
    n = promoters + passives + detractors
    if n == 0:
        return None
    p, d = promoters / n, detractors / n
    var = max(p + d - (p - d) ** 2, 0.0) / n
    half = Z * 100 * math.sqrt(var)
    v = 100 * (p - d)
    return Interval(v, max(v - half, -100.0), min(v + half, 100.0), n)


def wilson(successes: int, n: int) -> Interval | None:
    if n == 0:
        return None
    p = successes / n
    den = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / den
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / den
    return Interval(100 * p, 100 * (centre - half), 100 * (centre + half), n)


def mean_interval(values: list[float]) -> Interval | None:
    n = len(values)
    if n == 0:
        return None
    m = sum(values) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in values) / (n - 1)) if n > 1 else 0.0
    half = Z * sd / math.sqrt(n)
    return Interval(m, m - half, m + half, n)


def is_top_box(score: float, scale_max: float | None) -> bool:
    top = scale_max or 5.0
    if top <= 1:
        return score >= 1
    return score >= top - 1  # top-2-box: 4-5 of 5, 6-7 of 7


def group_scores(rows: Iterable[Sequence[Any]]) -> list[GroupScores]:
    """Scores per group from (group, kind, score, scale_max[, question]) rows; ``question``
    (see :data:`QUESTION`) names the custom scale question a ``custom`` row answers."""
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "nps": [0, 0, 0], "csat": [0, 0], "ces": [], "scales": defaultdict(list)})
    for row in rows:
        g, kind, score, scale_max = row[:4]
        a = acc[str(g)]
        a["n"] += 1
        if score is None or score != score:
            continue
        if kind == "nps":
            a["nps"][0 if score >= 9 else 1 if score >= 7 else 2] += 1
        elif kind == "ces":
            a["ces"].append(float(score))
        elif kind == "custom":  # its own mean per question and scale, never a CSAT
            question = row[4] if len(row) > 4 and row[4] else "custom"
            a["scales"][(str(question), scale_max)].append(float(score))
        else:
            a["csat"][0] += is_top_box(float(score), scale_max)
            a["csat"][1] += 1
    out = []
    for g in sorted(acc):
        a = acc[g]
        pr, pa_, de = a["nps"]
        scales = []
        for (q, top), values in sorted(a["scales"].items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            iv = mean_interval(values)
            assert iv is not None  # a key exists only with a value
            scales.append(ScaleScore(q, top, iv))
        out.append(GroupScores(g, a["n"], nps_interval(pr, pa_, de), wilson(a["csat"][0], a["csat"][1]),
                               mean_interval(a["ces"]), pr, de, tuple(scales)))
    return out


def scores(con: Any, root: Path, project: str, by: str = "touchpoint", *, ws: Any = None,
           lang: str = "en") -> list[GroupScores]:
    """Scores of a project's feedback grouped ``by`` one of :data:`GROUPS`; ``persona``
    needs the workspace ``ws`` (persons are resolved and joined to the latest persona run)."""
    if by not in GROUPS:
        raise SpecError(f"cannot group scores by {by!r}; use one of {', '.join(GROUPS)}", field="by")
    if by == "persona":
        if ws is None:
            raise SpecError("scores by persona need the workspace: pass ws=", field="by")
        from cxlens.voice.segments import feedback_relation

        rel = feedback_relation(ws, con, project, lang)
        if rel is None:
            return []
        grouped = rel.query("_fb", f"SELECT {GROUPS[by]}, kind, score, scale_max, {QUESTION} FROM _fb")
        assert grouped is not None  # a SELECT always gives a relation
        return group_scores(grouped.fetchall())
    files = sorted(str(p) for p in (root / "tables" / "feedback" / f"project={project}").glob("*.parquet"))
    if not files:
        return []
    rows = con.execute(
        f"SELECT {GROUPS[by]} AS g, kind, score, scale_max, {QUESTION} "
        "FROM read_parquet(?, union_by_name = true)",
        [files],
    ).fetchall()
    return group_scores(rows)
