"""The dashboard's routes: login, language, the pages, CSV exports and static files.

Pages are server-rendered (Jinja2) and plain Starlette routes, mounted beside the
collector by ``install(app)``. Every page runs in the thread pool (DuckDB queries block)
on a fresh ``Workspace`` handle, so a changed ``cxlens.toml`` (targets, alerts) applies
on the next request. Results of the heavier analyses are cached per project and event
snapshot: a new batch of events changes the key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from cxlens.errors import CxError
from cxlens.store.workspace import Workspace, read_retrying
from cxlens.web import auth, datastatus, journeymap, kpis, people, queries, views
from cxlens.web.charts import Chart, Table, plotly_js_path, plotly_locale_js
from cxlens.web.i18n import (
    LANGS,
    Fmt,
    Lang,
    channel_label,
    has,
    negotiate,
    parse_lang,
    stage_label,
    t,
)

log = logging.getLogger("cxlens.web")
HERE = Path(__file__).resolve().parent
LANG_COOKIE = "cxlens_lang"
PERIODS = (7, 30, 90)
NAV = ("overview", "journey", "personas", "funnels", "paths", "graph", "retention", "voice", "surveys", "profiles",
       "data")


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class ResultCache:
    """A small LRU of computed page parts, keyed by page, project, snapshot and inputs."""

    def __init__(self, size: int = 64, root: Path | None = None) -> None:
        self.size = size
        self.root = root  # the workspace: computations hold a reader's lease on it
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        # a page lists the files when it connects and reads them for a while: the lease
        # keeps what a collector's merge retires meanwhile (store/retired.py)
        value = read_retrying(make, self.root)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


@dataclass
class Web:
    root: Path
    app_state: Any
    sessions: auth.Sessions
    limiter: auth.RateLimiter = field(default_factory=auth.RateLimiter)
    cache: ResultCache = field(default_factory=ResultCache)
    env: Environment = field(default_factory=lambda: Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
        trim_blocks=True, lstrip_blocks=True))

    def __post_init__(self) -> None:
        if self.cache.root is None:
            self.cache.root = self.root


@dataclass
class Ctx:
    """Everything a page needs about the request: who, which language, which project."""

    request: Request
    ws: Workspace
    user: auth.User
    lang: Lang
    fmt: Fmt
    project: str
    days: int
    period: queries.Period
    csrf: str
    csrf_cookie: str | None  # set when the request had no valid CSRF cookie
    persona: int | None = None  # the persona segment every page is narrowed to
    personas: tuple[queries.PersonaOption, ...] = ()

    def url(self, path: str, **params: Any) -> str:
        base: dict[str, Any] = {"project": self.project, "days": self.days}
        if self.persona is not None:
            base["persona"] = self.persona
        base.update({k: v for k, v in params.items() if v is not None})
        return f"{path}?{urlencode(base, doseq=True)}"

    def export_url(self, chart_id: str) -> str:
        items = [(k, v) for k, v in self.request.query_params.multi_items() if k != "export"]
        items.append(("export", chart_id))
        return f"{self.request.url.path}?{urlencode(items)}"


def language(request: Request) -> Lang:
    return parse_lang(request.cookies.get(LANG_COOKIE)) or negotiate(
        request.headers.get("accept-language"))


def _csrf(web: Web, request: Request) -> tuple[str, str | None]:
    token = web.sessions.csrf_of(request.cookies.get(auth.CSRF_COOKIE))
    if token:
        return token, None
    cookie, token = web.sessions.new_csrf()
    return token, cookie


def _cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": request.url.scheme == "https",
            "path": "/"}


def render(web: Web, template: str, status: int = 200, *, request: Request, lang: Lang,
           csrf_cookie: str | None = None, **values: Any) -> HTMLResponse:
    tpl = web.env.get_template(template)
    html = tpl.render(lang=lang, langs=LANGS, t=lambda key, **kw: t(lang, key, **kw),
                      has=has, channel_label=lambda ch: channel_label(lang, ch),
                      stage_label=lambda st: stage_label(lang, st),
                      request=request, **values)
    resp = HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})
    if csrf_cookie:
        resp.set_cookie(auth.CSRF_COOKIE, csrf_cookie, max_age=auth.SESSION_MAX_AGE,
                        **_cookie_args(request))
    return resp


def context(web: Web, request: Request, ws: Workspace) -> Ctx:
    name = web.sessions.load(request.cookies.get(auth.SESSION_COOKIE))
    user = auth.get_user(ws.catalog, name) if name else None
    if user is None:
        raise LoginRequired()
    lang = language(request)
    if not user.projects:
        raise Forbidden("no_projects")
    project = request.query_params.get("project") or user.projects[0]
    if project not in user.projects:
        raise Forbidden("forbidden")
    try:
        days = int(request.query_params.get("days", "30"))
    except ValueError:
        days = 30
    days = days if days in PERIODS else 30
    period = queries.last_days(days, queries.default_end(ws, project))
    token, cookie = _csrf(web, request)
    personas = tuple(queries.persona_options(ws, project, lang))
    raw = request.query_params.get("persona") or None
    persona = None
    if raw is not None:
        if not raw.lstrip("-").isdigit() or int(raw) not in {p.id for p in personas}:
            raise CxError(f"persona {raw!r} is not a persona of the latest run of {project!r}; "
                          "choose one in the persona filter", field="persona")
        persona = int(raw)
    return Ctx(request, ws, user, lang, Fmt(lang), project, days, period, token, cookie,
               persona, personas)


def page_response(web: Web, ctx: Ctx, template: str, charts: list[Chart] | None = None,
                  status: int = 200, **values: Any) -> Response:
    export = ctx.request.query_params.get("export")
    if export is not None and charts is not None:
        for chart in charts:
            if chart.id == export:
                filename = f"cxlens-{ctx.project}-{chart.id}.csv"
                return Response(chart.table.to_csv(), media_type="text/csv; charset=utf-8",
                                headers={"Content-Disposition":
                                         f'attachment; filename="{filename}"'})
        return Response("unknown chart", status_code=404, media_type="text/plain")
    return render(web, template, status, request=ctx.request, lang=ctx.lang,
                  csrf_cookie=ctx.csrf_cookie, ctx=ctx, fmt=ctx.fmt, user=ctx.user,
                  nav=NAV, periods=PERIODS, charts=charts or [], **values)


def guarded(web: Web, fn: Callable[[Ctx], Response], admin: bool = False
            ) -> Callable[[Request], Response]:
    """Wrap a page: a session is required, the project must be the user's, a user's
    mistake (CxError) becomes the page's error message instead of a traceback."""

    def endpoint(request: Request) -> Response:
        ws = Workspace.open(web.root)
        try:
            try:
                ctx = context(web, request, ws)
            except LoginRequired:
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': nxt})}", status_code=303)
            except Forbidden as exc:
                lang = language(request)
                return render(web, "error.html", 403, request=request, lang=lang,
                              message=t(lang, exc.key))
            except CxError as exc:  # a bad filter in the URL (persona)
                return render(web, "error.html", exc.status_code, request=request,
                              lang=language(request), message=exc.message)
            if admin and not ctx.user.is_admin:
                return render(web, "error.html", 403, request=request, lang=ctx.lang,
                              message=t(ctx.lang, "admin_only"))
            try:
                return fn(ctx)
            except CxError as exc:
                return page_response(web, ctx, "error.html", status=exc.status_code,
                                     message=exc.message)
        finally:
            ws.close()

    return endpoint


def posted(web: Web, fn: Callable[[Web, Ctx, Any], Response]) -> Callable[[Request], Any]:
    """An admin's form POST: the CSRF token is checked first, then ``fn`` runs as a
    guarded page (session, project, role, CxError -> message) in a worker thread."""

    async def endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        form = await request.form()
        if not web.sessions.csrf_ok(request.cookies.get(auth.CSRF_COOKIE),
                                    str(form.get("csrf", ""))):
            return Response("invalid CSRF token; reload the page and send it again",
                            status_code=400, media_type="text/plain")
        page = guarded(web, lambda ctx: fn(web, ctx, form), True)
        return await run_in_threadpool(page, request)

    return endpoint


def safe_next(value: str | None) -> str:
    """Only local paths: ``//evil.example`` or ``https://...`` would be an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


# -- login / logout / language ------------------------------------------------------
def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def login(request: Request) -> Response:
    web: Web = request.app.state.web
    lang = language(request)
    token, cookie = _csrf(web, request)
    nxt = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(web, "login.html", request=request, lang=lang, csrf=token,
                      csrf_cookie=cookie, next=nxt, error=None, name="")
    form = await request.form()
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    nxt = safe_next(str(form.get("next", "/")))

    def fail(key: str, status: int) -> Response:
        return render(web, "login.html", status, request=request, lang=lang, csrf=token,
                      csrf_cookie=cookie, next=nxt, error=t(lang, key), name=name)

    if not web.sessions.csrf_ok(request.cookies.get(auth.CSRF_COOKIE),
                                str(form.get("csrf", ""))):
        return fail("login.csrf", 400)
    if not name or not password:
        return fail("login.required", 400)
    key = f"{name.lower()}|{_client(request)}"
    if not web.limiter.allow(key):
        resp = fail("login.limited", 429)
        resp.headers["Retry-After"] = str(int(web.limiter.window))
        return resp
    from starlette.concurrency import run_in_threadpool

    def check() -> auth.User | None:
        ws = Workspace.open(web.root)
        try:
            return auth.authenticate(ws.catalog, name, password)
        finally:
            ws.close()

    user = await run_in_threadpool(check)  # argon2 takes ~50 ms: not on the event loop
    if user is None:
        web.limiter.failed(key)
        log.info("failed login for %r from %s", name, _client(request))
        return fail("login.failed", 401)
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(auth.SESSION_COOKIE, web.sessions.dump(user.name),
                    max_age=auth.SESSION_MAX_AGE, **_cookie_args(request))
    return resp


async def logout(request: Request) -> Response:
    web: Web = request.app.state.web
    form = await request.form()
    if not web.sessions.csrf_ok(request.cookies.get(auth.CSRF_COOKIE), str(form.get("csrf", ""))):
        return Response("invalid CSRF token", status_code=400, media_type="text/plain")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(auth.SESSION_COOKIE, path="/")
    return resp


async def set_language(request: Request) -> Response:
    lang = parse_lang(request.query_params.get("to"))
    resp = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    if lang:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, **_cookie_args(request))
    return resp


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "plotly-locale-de.js":
        return Response(plotly_locale_js("de_DE"), media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})
    files = {"cx.css": (HERE / "static" / "cx.css", "text/css; charset=utf-8"),
             "plotly.min.js": (plotly_js_path(), "application/javascript; charset=utf-8")}
    if name not in files:
        return Response("not found", status_code=404, media_type="text/plain")
    path, media = files[name]
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


# -- pages ---------------------------------------------------------------------------
def _key(ctx: Ctx, name: str, *inputs: Any) -> tuple[Any, ...]:
    """Results depend on the project, its event snapshot, the period and the inputs; not
    on the language (charts are drawn per request from cached results)."""
    return (name, ctx.project, queries.snapshot_key(ctx.ws, ctx.project), ctx.period,
            ctx.persona, *inputs)


def _cache(web: Web, ctx: Ctx) -> Callable[[str, Callable[[], Any]], Any]:
    snapshot = queries.snapshot_key(ctx.ws, ctx.project)
    return lambda key, make: web.cache.get((key, ctx.project, snapshot), make)


def compute_overview(ws: Workspace, project: str, period: queries.Period,
                     targets: dict[str, kpis.Target], persona: int | None = None
                     ) -> kpis.Overview:
    con = queries.connect(ws, project, persona)
    try:
        ov = kpis.overview(con, period, targets, queries.feedback_files(ws, project))
        segments = queries.register_personas(con, ws, project) if persona is None else None
        if segments is None:
            return ov
        return replace(ov, by_persona=kpis.by_segment(con, period, segments))
    finally:
        con.close()


def compute_journey(ws: Workspace, project: str, period: queries.Period,
                    rows: str = "channel", persona: int | None = None) -> journeymap.JourneyMap:
    stages = journeymap.configured_stages(ws.root, ws.config)
    con = queries.connect(ws, project, persona)
    try:
        return journeymap.journey_map(con, period, queries.feedback_files(ws, project),
                                      stages, rows, segmented=persona is not None)
    finally:
        con.close()


def _rows(ctx: Ctx) -> str:
    rows = ctx.request.query_params.get("rows", "channel")
    return rows if rows in journeymap.ROWS else "channel"


def overview_page(web: Web, ctx: Ctx) -> Response:
    targets = kpis.parse_targets(ctx.ws.config)

    ov = web.cache.get(_key(ctx, "overview", tuple(sorted(targets.items()))),
                       lambda: compute_overview(ctx.ws, ctx.project, ctx.period, targets,
                                                ctx.persona))
    charts = views.overview_charts(ov, ctx.lang, ctx.fmt)
    from cxlens.web import alerts

    return page_response(web, ctx, "overview.html", charts, ov=ov, kpi_value=views.kpi_value,
                         kpi_change=views.kpi_change, target_text=views.target_text,
                         alert_channel=alerts.configured(ctx.ws.config),
                         sent=ctx.request.query_params.get("sent"))


def journey_page(web: Web, ctx: Ctx) -> Response:
    rows = _rows(ctx)
    journey = (ctx.ws.config.get("dashboard", {}) or {}).get("journey")
    jm = web.cache.get(_key(ctx, "journey", journey, rows),
                       lambda: compute_journey(ctx.ws, ctx.project, ctx.period, rows,
                                               ctx.persona))
    charts = [views.dropoff_chart(jm, ctx.lang, ctx.fmt), views.journey_table(jm, ctx.lang, ctx.fmt)]
    return page_response(web, ctx, "journey.html", charts, jm=jm,
                         rows=views.journey_cells(jm, ctx.lang, ctx.fmt))


def personas_cards_page(web: Web, ctx: Ctx) -> Response:
    from cxlens.web import personas_page

    return page_response(web, ctx, "personas.html",
                         **personas_page.page_values(ctx.ws, ctx.project, ctx.lang, ctx.fmt))


def cell_page(web: Web, ctx: Ctx) -> Response:
    stage = ctx.request.query_params.get("stage", "")
    channel = ctx.request.query_params.get("channel") or None  # the row's value
    stages = journeymap.configured_stages(ctx.ws.root, ctx.ws.config)
    con = queries.connect(ctx.ws, ctx.project, ctx.persona)
    try:
        detail = journeymap.cell_detail(con, ctx.period, stage, channel, stages, _rows(ctx))
    finally:
        con.close()
    f = ctx.fmt
    persons = Chart("persons", t(ctx.lang, "journey.cell_persons"), Table(
        ("person", "events", "first", "last"),
        tuple((p, n, a.isoformat(), b.isoformat()) for p, n, a, b in detail.persons),
        tuple((p, f.number(n), f.datetime(a), f.datetime(b)) for p, n, a, b in detail.persons),
        tuple(ctx.url("/profiles", person=p) for p, _, _, _ in detail.persons)))
    events = Chart("events", t(ctx.lang, "journey.cell_events"), Table(
        ("time", "person", "event", "channel"),
        tuple((a.isoformat(), b, c, d) for a, b, c, d in detail.events),
        tuple((f.datetime(a), b, c, d) for a, b, c, d in detail.events)))
    title = t(ctx.lang, "journey.cell", stage=stage_label(ctx.lang, stage),
              channel=channel or t(ctx.lang, "journey.total"))
    return page_response(web, ctx, "cell.html", [persons, events], title=title, detail=detail,
                         rows_kind=_rows(ctx))


def paths_page(web: Web, ctx: Ctx) -> Response:
    q = ctx.request.query_params
    start = q.get("start") or None
    try:
        max_steps = max(2, min(8, int(q.get("steps", "4"))))
    except ValueError:
        max_steps = 4
    con = queries.connect(ctx.ws, ctx.project)
    try:
        names = web.cache.get(_key(ctx, "event-names"), lambda: views.event_names(con))
    finally:
        con.close()
    charts = views.paths_charts(ctx.ws, ctx.project, start, max_steps, ctx.period, ctx.lang,
                                ctx.fmt, _cache(web, ctx), ctx.persona)
    return page_response(web, ctx, "paths.html", charts, names=names, start=start,
                         max_steps=max_steps)


def graph_page(web: Web, ctx: Ctx) -> Response:
    charts = views.graph_charts(ctx.ws, ctx.project, ctx.period, ctx.lang, ctx.fmt,
                                _cache(web, ctx), ctx.persona)
    return page_response(web, ctx, "charts.html", charts, title=t(ctx.lang, "graph.title"))


def retention_page(web: Web, ctx: Ctx) -> Response:
    charts = views.retention_charts(ctx.ws, ctx.project, ctx.lang, ctx.fmt,
                                    cache=_cache(web, ctx), persona=ctx.persona)
    return page_response(web, ctx, "charts.html", charts, title=t(ctx.lang, "retention.title"))


def profiles_page(web: Web, ctx: Ctx) -> Response:
    q = ctx.request.query_params.get("q", "").strip()[:200]
    person = ctx.request.query_params.get("person", "").strip()[:200]
    account_id = ctx.request.query_params.get("account", "").strip()[:200]
    con = queries.connect(ctx.ws, ctx.project)
    try:
        matches = people.search(con, q) if q else []
        accounts = people.search_accounts(con, q) if q else []
        view = people.person_view(ctx.ws, con, ctx.project, person) if person else None
    finally:
        con.close()
    account = people.account_view(ctx.ws, ctx.project, account_id) if account_id else None
    charts: list[Chart] = []
    if view is not None:
        f = ctx.fmt
        charts.append(Chart("timeline", t(ctx.lang, "profiles.timeline"), Table(
            ("time", "event", "channel", "source", "revenue"),
            tuple((a.isoformat(), b, c, d, e) for a, b, c, d, e in view.timeline),
            tuple((f.datetime(a), b, c, d, f.money(e) if e is not None else "")
                  for a, b, c, d, e in view.timeline))))
    return page_response(web, ctx, "profiles.html", charts, q=q, matches=matches, view=view,
                         person=person, accounts=accounts, account=account,
                         account_id=account_id)


def data_page(web: Web, ctx: Ctx) -> Response:
    con = queries.connect(ctx.ws, ctx.project)
    try:
        srcs = datastatus.sources(con)
        vol = datastatus.volume(con, ctx.period)
    finally:
        con.close()
    f = ctx.fmt
    from cxlens.web import charts as ch

    days = sorted({d for d, _, _ in vol})
    names = sorted({s for _, s, _ in vol})
    by = {(d, s): n for d, s, n in vol}
    fig = ch.bar(days, {s: [by.get((d, s), 0) for d in days] for s in names})
    fig.update_layout(barmode="stack")
    volume = Chart("volume", t(ctx.lang, "data.volume"), Table(
        ("day", "source", "events"), tuple((d.isoformat(), s, n) for d, s, n in vol),
        tuple((f.date(d), s, f.number(n)) for d, s, n in vol)),
        ch.to_div(fig, "chart-volume", ctx.lang))
    sources = Chart("sources", t(ctx.lang, "data.sources"), Table(
        ("source", "events", "first", "last"),
        tuple((s, n, a.isoformat(), b.isoformat()) for s, n, a, b in srcs),
        tuple((s, f.number(n), f.datetime(a), f.datetime(b)) for s, n, a, b in srcs)))
    preview_name = ctx.request.query_params.get("reject")
    preview = datastatus.reject_preview(ctx.ws, preview_name) if preview_name else []
    return page_response(web, ctx, "data.html", [volume, sources],
                         batches=datastatus.batches(ctx.ws, ctx.project),
                         rejects=datastatus.rejects(ctx.ws), preview=preview,
                         preview_name=preview_name,
                         health=datastatus.collector_health(web.app_state))


def install(app: Any, root: Path) -> None:
    """Mount the dashboard on the cxlens app (called from ``create_app``)."""
    ws = Workspace.open(root)
    try:
        key = auth.secret_key(ws.catalog)
    finally:
        ws.close()
    from cxlens.store.workspace import CATALOG_NAME

    web = Web(root, app.state, auth.Sessions(key),
              limiter=auth.RateLimiter(catalog=root / CATALOG_NAME))
    app.state.web = web

    from cxlens.web import funnel_builder, surveypages, voicepage

    def p(fn: Callable[[Web, Ctx], Response], admin: bool = False) -> Callable[[Request], Response]:
        return guarded(web, lambda ctx: fn(web, ctx), admin)

    routes = [
        Route("/", p(overview_page), methods=["GET"]),
        Route("/journey", p(journey_page), methods=["GET"]),
        Route("/journey/cell", p(cell_page), methods=["GET"]),
        Route("/personas", p(personas_cards_page), methods=["GET"]),
        *funnel_builder.routes(web, guarded),
        Route("/paths", p(paths_page), methods=["GET"]),
        Route("/graph", p(graph_page), methods=["GET"]),
        Route("/retention", p(retention_page), methods=["GET"]),
        Route("/profiles", p(profiles_page), methods=["GET"]),
        Route("/data", p(data_page, admin=True), methods=["GET"]),
        Route("/voice", p(voicepage.voice_page), methods=["GET"]),
        *surveypages.routes(web, guarded),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang", set_language, methods=["GET"]),
        Route("/static/{name}", static_file, methods=["GET"]),
    ]
    from cxlens.web import alerts

    routes.append(Route("/alerts/send", alerts.endpoint(web), methods=["POST"]))
    app.router.routes.extend(routes)
    from cxlens.web import schedule

    schedule.install(app, root)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            stop = threading.Event()
            from cxlens.web.warming import warm_forever

            warm = threading.Thread(target=warm_forever, args=(web, stop), daemon=True,
                                    name="cxlens-dashboard-warm")
            if os.environ.get("CXLENS_DASHBOARD_PREWARM", "1") != "0":
                warm.start()
            try:
                yield state
            finally:
                stop.set()
                if warm.is_alive():  # a query under way must end before the process does
                    await asyncio.to_thread(warm.join)

    app.router.lifespan_context = lifespan
