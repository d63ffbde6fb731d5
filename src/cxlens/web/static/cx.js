/*! cx.js - first-party tracking snippet of cxlens (Apache-2.0). No dependencies.
 *
 * <script async src="https://COLLECTOR/cx.js" data-key="WRITE_KEY" data-consent="pending"></script>
 *
 * - page views (also single-page-app navigation via history.pushState/popstate)
 * - clicks on elements marked data-cx-event="Event Name" (data-cx-prop-NAME="value" -> properties)
 * - utm_* parameters and ad click ids (gclid, msclkid, fbclid, ...) of the landing URL
 * - consent: nothing personal and no cookie until cx.consent(true) (or data-consent="granted");
 *   without consent events are sent with context.consent.analytics = false and no ids, so the
 *   collector stores only aggregate, anonymous data
 * - anonymous id in a first-party cookie (_cx_aid, SameSite=Lax, 13 months) only with consent
 * - batched, Segment-format POSTs to /v1/batch; navigator.sendBeacon when the page is hidden
 *
 * API: cx.track(name, props), cx.page(), cx.identify(userId, traits), cx.consent(bool);
 * for other snippets (cx-survey.js): cx.hasConsent(), cx.ids(), cx.on(fn) (fn(message) for every
 * message of this page, the ones before the call included)
 * Calls made before the script loaded can be queued: window.cx = window.cx || []; cx.push(["track", "X"]).
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript || d.querySelector("script[data-key][src*='cx.js']");
  if (!script || (w.cx && w.cx.__loaded)) return;
  var KEY = script.getAttribute("data-key");
  var ENDPOINT = (script.getAttribute("data-endpoint") || new URL(script.src).origin) + "/v1/batch";
  var MAX_BATCH = 20, FLUSH_MS = 5000, SESSION_MS = 30 * 60 * 1000;
  var CLICK_IDS = ["gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "li_fat_id", "twclid", "yclid"];
  var UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_term: "term", utm_content: "content" };
  var queue = [], timer = null, userId = null, listeners = [], sent = [];  // not "history": that would hide window.history
  var consent = (script.getAttribute("data-consent") || "pending") === "granted";

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function cookie(name, value, maxAge) {
    if (value === undefined) {
      var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
      return m ? decodeURIComponent(m[1]) : null;
    }
    d.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function anonymousId() {
    if (!consent) return null;
    var id = cookie("_cx_aid");
    if (!id) id = uuid();
    cookie("_cx_aid", id, 34186669); // 13 months, renewed on activity
    return id;
  }
  function sessionId() {
    if (!consent) return null;
    var now = Date.now(), raw = cookie("_cx_sid"), parts = raw ? raw.split(".") : null;
    var id = parts && now - Number(parts[1]) < SESSION_MS ? parts[0] : uuid();
    cookie("_cx_sid", id + "." + now, SESSION_MS / 1000);
    return id;
  }
  function acquisition() {
    var params = new URLSearchParams(location.search), campaign = {}, clicks = {}, k;
    for (k in UTM) if (params.get(k)) campaign[UTM[k]] = params.get(k);
    CLICK_IDS.forEach(function (c) { if (params.get(c)) clicks[c] = params.get(c); });
    return { campaign: campaign, clicks: clicks };
  }
  function context() {
    var acq = acquisition();
    var ctx = {
      library: { name: "cx.js", version: "0.1.0" },
      locale: navigator.language,
      page: { url: location.href, path: location.pathname, title: d.title, referrer: d.referrer, search: location.search }
    };
    if (Object.keys(acq.campaign).length) ctx.campaign = acq.campaign;
    if (!consent) {
      ctx.consent = { analytics: false };
      return ctx;
    }
    if (Object.keys(acq.clicks).length) ctx.click_ids = acq.clicks;
    ctx.userAgent = navigator.userAgent;
    ctx.sessionId = sessionId();
    ctx.screen = { width: w.screen.width, height: w.screen.height };
    return ctx;
  }
  function enqueue(msg) {
    msg.messageId = uuid();
    msg.timestamp = new Date().toISOString();
    msg.context = context();
    var anon = anonymousId();
    if (anon) msg.anonymousId = anon;
    if (consent && userId) msg.userId = userId;
    if (!msg.anonymousId && !msg.userId) msg.anonymousId = "anonymous"; // no id without consent
    queue.push(msg);
    if (sent.length < 100) sent.push(msg);
    listeners.forEach(function (fn) { try { fn(msg); } catch (e) { /* a listener's bug is its own */ } });
    if (queue.length >= MAX_BATCH) flush(false);
    else if (!timer) timer = setTimeout(function () { flush(false); }, FLUSH_MS);
  }
  function flush(leaving) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length || !KEY) return;
    var body = JSON.stringify({ batch: queue.splice(0, queue.length), sentAt: new Date().toISOString(), writeKey: KEY });
    // text/plain keeps it a "simple" CORS request: no preflight, and sendBeacon accepts it
    var blob = new Blob([body], { type: "text/plain" });
    if (leaving && navigator.sendBeacon && navigator.sendBeacon(ENDPOINT, blob)) return;
    if (w.fetch) {
      w.fetch(ENDPOINT, { method: "POST", body: blob, keepalive: true, mode: "cors", credentials: "omit" })
        .catch(function () {});
    } else if (navigator.sendBeacon) {
      navigator.sendBeacon(ENDPOINT, blob);
    }
  }

  var api = {
    __loaded: true,
    page: function (name, props) {
      var p = props || {};
      p.url = location.href; p.path = location.pathname; p.title = d.title; p.referrer = d.referrer;
      enqueue({ type: "page", name: name || d.title, properties: p });
    },
    track: function (event, props) { enqueue({ type: "track", event: String(event), properties: props || {} }); },
    identify: function (id, traits) {
      userId = id == null ? null : String(id);
      if (consent && userId) enqueue({ type: "identify", userId: userId, traits: traits || {} });
    },
    consent: function (granted) {
      consent = !!granted;
      if (!consent) { cookie("_cx_aid", "", 0); cookie("_cx_sid", "", 0); userId = null; }
    },
    flush: function () { flush(false); },
    hasConsent: function () { return consent; },
    ids: function () { return { anonymousId: anonymousId(), userId: consent ? userId : null }; },
    on: function (fn) { listeners.push(fn); sent.forEach(function (m) { try { fn(m); } catch (e) {} }); },
    push: function (call) { if (call && api[call[0]]) api[call[0]].apply(api, call.slice(1)); }
  };
  var pending = Array.isArray(w.cx) ? w.cx : [];
  w.cx = api;
  pending.forEach(api.push);

  d.addEventListener("click", function (e) {
    var el = e.target && e.target.closest ? e.target.closest("[data-cx-event]") : null;
    if (!el) return;
    var props = {}, attrs = el.attributes;
    for (var i = 0; i < attrs.length; i++) {
      if (attrs[i].name.indexOf("data-cx-prop-") === 0) props[attrs[i].name.slice(13)] = attrs[i].value;
    }
    if (el.href) props.href = el.href;
    api.track(el.getAttribute("data-cx-event"), props);
  }, true);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(true); });
  w.addEventListener("pagehide", function () { flush(true); });
  var push = w.history.pushState;
  w.history.pushState = function () { push.apply(w.history, arguments); api.page(); };
  w.addEventListener("popstate", function () { api.page(); });
  api.page();
})(window, document);
