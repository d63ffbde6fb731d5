"""The Funnels page: build a funnel interactively (any number of steps, window, mode,
an exclusion step, a breakdown), and keep the ones a team looks at every week.

Saved funnels live in the catalog (``web_settings``, key ``funnel:<project>:<name>``) as
the same form fields the page is built from, so opening one is just the page with those
fields; admins save and delete them, everyone with the project opens them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cxlens.errors import CxError, NotFound, ValidationError
from cxlens.store.catalog import Catalog
from cxlens.web import queries, views
from cxlens.web.charts import Chart
from cxlens.web.i18n import t

if TYPE_CHECKING:
    from cxlens.web.pages import Ctx, Web

WINDOWS: Final = ("1h", "1d", "7d", "14d", "30d", "90d")
MODES: Final = ("ordered", "strict", "unordered")
MAX_STEPS: Final = 20
DEFAULT_FUNNEL: Final = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


@dataclass(frozen=True, slots=True)
class FunnelForm:
    """What the form says; every field checked, so a hand-edited URL gets a clear error."""

    steps: tuple[str, ...] = ()
    window: str = "7d"
    mode: str = "ordered"
    exclude: str | None = None
    breakdown: str | None = None

    @classmethod
    def parse(cls, get: Callable[[str], str | None], steps: list[str]) -> FunnelForm:
        steps = [s for s in steps if s]
        if len(steps) > MAX_STEPS:
            raise ValidationError(f"a funnel has at most {MAX_STEPS} steps here", field="step")
        window = get("window") or "7d"
        if window not in WINDOWS:
            raise ValidationError(f"window must be one of {list(WINDOWS)}", field="window")
        mode = get("mode") or "ordered"
        if mode not in MODES:
            raise ValidationError(f"mode must be one of {list(MODES)}", field="mode")
        breakdown = get("breakdown") or None
        if breakdown not in (None, *views.BREAKDOWNS):
            raise ValidationError(f"breakdown must be one of {list(views.BREAKDOWNS)}",
                                  field="breakdown")
        return cls(tuple(steps), window, mode, get("exclude") or None, breakdown)

    def spec(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"steps": list(self.steps), "window": self.window,
                               "mode": self.mode, "breakdown": self.breakdown}
        if self.exclude:
            doc["exclusions"] = [{"event": self.exclude, "from_step": 1, "to_step": 0}]
        return doc


def _key(project: str, name: str) -> str:
    return f"funnel:{project}:{name}"


def saved_funnels(catalog: Catalog, project: str) -> dict[str, FunnelForm]:
    rows = catalog.execute("SELECT key, value FROM web_settings WHERE key >= ? AND key < ? "
                           "ORDER BY key", (_key(project, ""), _key(project, "\uffff"))).fetchall()
    out = {}
    for key, value in rows:
        doc = orjson.loads(value)
        out[str(key).split(":", 2)[2]] = FunnelForm(tuple(doc["steps"]), doc["window"],
                                                    doc["mode"], doc.get("exclude"),
                                                    doc.get("breakdown"))
    return out


def save_funnel(catalog: Catalog, project: str, name: str, form: FunnelForm) -> None:
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationError("give the funnel a name of 1 to 80 characters", field="name")
    if len(form.steps) < 2:
        raise ValidationError("a saved funnel needs at least two steps", field="step")
    catalog.execute("INSERT OR REPLACE INTO web_settings (key, value) VALUES (?, ?)",
                    (_key(project, name), orjson.dumps(asdict(form)).decode()))


def delete_funnel(catalog: Catalog, project: str, name: str) -> None:
    gone = catalog.execute("DELETE FROM web_settings WHERE key = ?", (_key(project, name),))
    if gone.rowcount == 0:
        raise NotFound(f"no saved funnel {name!r} in project {project!r}", field="name")


def funnels_page(web: Web, ctx: Ctx) -> Response:
    from cxlens.web.pages import _cache, page_response
    from cxlens.web.pages import _key as cache_key

    q = ctx.request.query_params
    saved = saved_funnels(ctx.ws.catalog, ctx.project)
    chosen = q.get("saved") or None
    if chosen is not None:
        if chosen not in saved:
            raise NotFound(f"no saved funnel {chosen!r} in project {ctx.project!r}", field="saved")
        form = saved[chosen]
    else:
        form = FunnelForm.parse(q.get, q.getlist("step"))
    con = queries.connect(ctx.ws, ctx.project)
    try:
        names = web.cache.get(cache_key(ctx, "event-names"), lambda: views.event_names(con))
    finally:
        con.close()
    if not form.steps:
        form = FunnelForm(tuple(s for s in DEFAULT_FUNNEL if s in names), form.window,
                          form.mode, form.exclude, form.breakdown)
    charts: list[Chart] = []
    error = None
    if len(form.steps) < 2:
        error = t(ctx.lang, "funnel.need_steps")
    else:
        try:
            charts = views.funnel_charts(ctx.ws, ctx.project, form.spec(), ctx.period, ctx.lang,
                                         ctx.fmt, _cache(web, ctx), ctx.persona)
        except CxError as exc:
            error = exc.message
    slots = min(MAX_STEPS, max(5, len(form.steps) + 1))  # always one free slot to add a step
    return page_response(web, ctx, "funnels.html", charts, names=names, form=form,
                         slots=slots, windows=WINDOWS, modes=MODES,
                         breakdowns=views.BREAKDOWNS, error=error, saved=sorted(saved),
                         chosen=chosen, notice=q.get("notice"))


def save_action(web: Web, ctx: Ctx, form: Mapping[str, Any]) -> Response:
    del web
    getlist: Callable[[str], list[Any]] = getattr(form, "getlist", lambda k: [])
    funnel = FunnelForm.parse(lambda k: str(form.get(k) or "") or None,
                              [str(s) for s in getlist("step")])
    name = str(form.get("name", ""))
    save_funnel(ctx.ws.catalog, ctx.project, name, funnel)
    return RedirectResponse(ctx.url("/funnels", saved=name.strip(), notice="saved"),
                            status_code=303)


def delete_action(web: Web, ctx: Ctx, form: Mapping[str, Any]) -> Response:
    del web
    delete_funnel(ctx.ws.catalog, ctx.project, str(form.get("name", "")))
    return RedirectResponse(ctx.url("/funnels", notice="deleted"), status_code=303)


def routes(web: Web, guarded: Callable[..., Callable[[Request], Response]]) -> list[Route]:
    from cxlens.web.pages import posted

    return [Route("/funnels", guarded(web, lambda ctx: funnels_page(web, ctx)), methods=["GET"]),
            Route("/funnels/save", posted(web, save_action), methods=["POST"]),
            Route("/funnels/delete", posted(web, delete_action), methods=["POST"])]
