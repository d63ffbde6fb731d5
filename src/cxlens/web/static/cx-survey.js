/*! cx-survey.js - surveys of cxlens on the shop's own pages (Apache-2.0). No dependencies.
 *
 * <script async src="https://COLLECTOR/cx.js" data-key="WRITE_KEY"></script>
 * <script async src="https://COLLECTOR/cx-survey.js" data-key="WRITE_KEY"></script>
 *
 * - needs cx.js (events and consent) and shows nothing without consent (cx.consent(true))
 * - fetches the project's active surveys from /v1/surveys (write key, page language, the
 *   person's ids for the server-side cap) and evaluates their triggers here: an event or a
 *   journey stage's events tracked on this page (cx.track) or reached before (the server
 *   says so), or seconds on the page
 * - URL rule, sample share and frequency cap (localStorage, plus the server's answer count)
 * - an accessible, non-modal dialog in the page's language (<html lang="de|en">): fieldsets
 *   with legends, native radio buttons and check boxes, Escape closes, focus is managed
 * - the answer goes through the collector as the event "Survey Answered"
 *
 * API: cxSurvey.show(surveyId) shows one now (its trigger aside), cxSurvey.reload()
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript || d.querySelector("script[src*='cx-survey.js']");
  if (!script || w.cxSurvey) return;
  var BASE = script.getAttribute("data-endpoint") || new URL(script.src).origin;
  var STORE = "_cx_survey_";
  var LANG = ((d.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase() === "de") ? "de" : "en";
  var T = {
    de: { send: "Senden", close: "Umfrage schließen", thanks: "Vielen Dank für Ihre Antwort!",
          required: "Bitte beantworten Sie die markierten Fragen.", survey: "Umfrage", optional: "optional" },
    en: { send: "Send", close: "Close survey", thanks: "Thank you for your answer!",
          required: "Please answer the marked questions.", survey: "Survey", optional: "optional" }
  }[LANG];
  var surveys = [], shown = false, started = false, armed = {};

  function key() {
    if (script.getAttribute("data-key")) return script.getAttribute("data-key");
    var cxs = d.querySelector("script[data-key][src*='cx.js']");
    return cxs ? cxs.getAttribute("data-key") : null;
  }
  function state(id) {
    try { return JSON.parse(w.localStorage.getItem(STORE + id) || "{}"); } catch (e) { return {}; }
  }
  function save(id, st) {
    try { w.localStorage.setItem(STORE + id, JSON.stringify(st)); } catch (e) { /* private mode */ }
  }
  function hash(text) { // FNV-1a, for a stable sample decision per person and survey
    var h = 2166136261;
    for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619); }
    return (h >>> 0) / 4294967296;
  }
  function urlOk(pattern) {
    if (!pattern) return true;
    var here = location.pathname + location.search;
    if (pattern.indexOf("*") < 0) return here.indexOf(pattern) === 0;
    var rx = "^" + pattern.split("*").map(function (p) { return p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"); }).join(".*") + "$";
    return new RegExp(rx).test(here);
  }
  function allowed(s) {
    var st = state(s.id), now = Date.now();
    if ((st.n || 0) >= s.max_answers) return false;
    if (st.last && now - st.last < s.every_days * 86400000) return false;
    if (!urlOk(s.url)) return false;
    var ids = w.cx.ids();
    return hash((ids.userId || ids.anonymousId || "") + "|" + s.id) < s.sample;
  }
  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function css() {
    if (d.getElementById("cxs-style")) return;
    var st = el("style", { id: "cxs-style" });
    st.textContent =
      ".cxs{position:fixed;right:16px;bottom:16px;z-index:2147483000;max-width:380px;width:calc(100% - 32px);" +
      "background:#fff;color:#1f2937;border:1px solid #6b7280;border-radius:10px;box-shadow:0 8px 28px rgba(0,0,0,.22);" +
      "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;padding:16px}" +
      ".cxs h2{font-size:16px;margin:0 28px 8px 0}.cxs fieldset{border:0;margin:0 0 12px;padding:0}" +
      ".cxs legend{font-weight:600;margin-bottom:6px;padding:0}.cxs .scale{display:flex;flex-wrap:wrap;gap:4px}" +
      ".cxs .scale label{position:relative}.cxs .scale input{position:absolute;opacity:0;width:1px;height:1px}" +
      ".cxs .scale span{display:inline-block;min-width:28px;padding:5px 4px;text-align:center;border:1px solid #4b5563;border-radius:6px;cursor:pointer}" +
      ".cxs .scale input:checked+span{background:#1d4ed8;color:#fff;border-color:#1d4ed8}" +
      ".cxs .scale input:focus-visible+span,.cxs button:focus-visible,.cxs textarea:focus-visible,.cxs .opt input:focus-visible{outline:3px solid #b45309;outline-offset:2px}" +
      ".cxs .ends{display:flex;justify-content:space-between;font-size:13px;color:#374151;margin-top:2px}" +
      ".cxs .opt{display:block;margin:2px 0}.cxs textarea{width:100%;box-sizing:border-box;min-height:64px;font:inherit;border:1px solid #4b5563;border-radius:6px;padding:6px}" +
      ".cxs .send{background:#1d4ed8;color:#fff;border:0;border-radius:6px;padding:8px 16px;font:inherit;cursor:pointer}" +
      ".cxs .x{position:absolute;top:8px;right:8px;background:none;border:0;font-size:22px;line-height:1;color:#374151;cursor:pointer;padding:4px 8px}" +
      ".cxs .err{color:#b91c1c;font-weight:600}.cxs .req{color:#b91c1c}";
    d.head.appendChild(st);
  }
  function props(s, extra) {
    var p = { survey_id: s.id, survey_version: s.version, touchpoint: s.touchpoint, stage: s.stage,
              lang: LANG, channel: "web", url: location.pathname };
    for (var k in extra || {}) p[k] = extra[k];
    return p;
  }
  function question(s, q, i) {
    var fs = el("fieldset", { "data-question": q.id });
    var lid = "cxs-" + s.id + "-" + q.id;
    var legend = el("legend", { id: lid }, q.text);
    if (q.required) legend.appendChild(el("span", { "class": "req", "aria-hidden": "true" }, " *"));
    fs.appendChild(legend);
    var name = "q_" + q.id;
    if (q.kind === "text") {
      fs.removeChild(legend);
      var fl = el("label", { "for": lid + "-t", "class": "legend" }, q.text);
      fl.style.fontWeight = "600"; fl.style.display = "block"; fl.style.marginBottom = "6px";
      fs.appendChild(fl);
      fs.appendChild(el("textarea", { id: lid + "-t", name: name, maxlength: "2000" }));
    } else if (q.kind === "single" || q.kind === "multi") {
      q.options.forEach(function (o) {
        var lab = el("label", { "class": "opt" });
        var inp = el("input", { type: q.kind === "single" ? "radio" : "checkbox", name: name, value: o.id });
        lab.appendChild(inp); lab.appendChild(d.createTextNode(" " + o.text));
        fs.appendChild(lab);
      });
    } else {
      var row = el("div", { "class": "scale" });
      for (var v = q.min; v <= q.max; v++) {
        var lab2 = el("label");
        var r = el("input", { type: "radio", name: name, value: String(v) });
        if (v === q.min && q.low_label) r.setAttribute("aria-label", v + " – " + q.low_label);
        if (v === q.max && q.high_label) r.setAttribute("aria-label", v + " – " + q.high_label);
        lab2.appendChild(r); lab2.appendChild(el("span", { "aria-hidden": "true" }, String(v)));
        if (!r.getAttribute("aria-label")) r.setAttribute("aria-label", String(v));
        row.appendChild(lab2);
      }
      fs.appendChild(row);
      if (q.low_label || q.high_label) {
        var ends = el("div", { "class": "ends", "aria-hidden": "true" });
        ends.appendChild(el("span", null, q.low_label || "")); ends.appendChild(el("span", null, q.high_label || ""));
        fs.appendChild(ends);
      }
    }
    return fs;
  }
  function collect(s, form) {
    var answers = {}, missing = [];
    s.questions.forEach(function (q) {
      var name = "q_" + q.id, v = null;
      if (q.kind === "text") {
        v = form.elements[name].value.trim() || null;
      } else if (q.kind === "multi") {
        v = [].slice.call(form.querySelectorAll("input[name='" + name + "']:checked")).map(function (x) { return x.value; });
        if (!v.length) v = null;
      } else {
        var c = form.querySelector("input[name='" + name + "']:checked");
        v = c ? (q.kind === "single" ? c.value : Number(c.value)) : null;
      }
      if (v === null) { if (q.required) missing.push(q.id); } else answers[q.id] = v;
    });
    return { answers: answers, missing: missing };
  }
  function show(s) {
    if (shown || !w.cx || !w.cx.hasConsent()) return false;
    shown = true;
    css();
    var before = d.activeElement;
    var box = el("div", { "class": "cxs", role: "dialog", "aria-modal": "false", "aria-labelledby": "cxs-h-" + s.id,
                          "data-survey": s.id });
    var h = el("h2", { id: "cxs-h-" + s.id, tabindex: "-1" }, T.survey);
    var x = el("button", { type: "button", "class": "x", "aria-label": T.close }, "\u00d7");
    var form = el("form", { novalidate: "" });
    var err = el("p", { "class": "err", role: "alert" });
    s.questions.forEach(function (q, i) { form.appendChild(question(s, q, i)); });
    form.appendChild(err);
    form.appendChild(el("button", { type: "submit", "class": "send" }, T.send));
    box.appendChild(x); box.appendChild(h); box.appendChild(form);
    d.body.appendChild(box);
    var st = state(s.id); st.last = Date.now(); save(s.id, st);
    w.cx.track("Survey Shown", props(s));
    function close(answered) {
      if (!answered) w.cx.track("Survey Dismissed", props(s));
      d.removeEventListener("keydown", onKey, true);
      if (box.parentNode) box.parentNode.removeChild(box);
      if (before && before.focus) before.focus();
    }
    function onKey(e) { if (e.key === "Escape" && box.contains(d.activeElement)) close(false); }
    d.addEventListener("keydown", onKey, true);
    x.addEventListener("click", function () { close(false); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var got = collect(s, form);
      if (got.missing.length || !Object.keys(got.answers).length) { err.textContent = T.required; return; }
      w.cx.track("Survey Answered", props(s, { answers: got.answers }));
      w.cx.flush();
      var st2 = state(s.id); st2.n = (st2.n || 0) + 1; st2.last = Date.now(); save(s.id, st2);
      form.parentNode.replaceChild(el("p", { role: "status", "data-thanks": "1" }, T.thanks), form);
      x.focus();
      setTimeout(function () { close(true); }, 6000);
    });
    var first = form.querySelector("input,textarea");
    (first || h).focus();
    return true;
  }
  function arm(s) {
    if (armed[s.id] || !allowed(s)) return;
    armed[s.id] = true;
    var delay = (s.trigger.seconds || 0) * 1000;
    // time on page, or a stage the server saw this person reach before (e.g. delivered)
    if (s.trigger.kind === "seconds" || s.trigger.reached) { setTimeout(function () { show(s); }, delay); return; }
    var fired = false;
    w.cx.on(function (m) {
      if (fired || m.type !== "track" || s.trigger.events.indexOf(m.event) < 0) return;
      fired = true;
      setTimeout(function () { show(s); }, delay);
    });
  }
  function load() {
    var k = key();
    if (!k || !w.cx.hasConsent() || started) return;
    started = true;
    var ids = w.cx.ids(), q = "writeKey=" + encodeURIComponent(k) + "&lang=" + LANG;
    if (ids.anonymousId) q += "&anonymousId=" + encodeURIComponent(ids.anonymousId);
    if (ids.userId) q += "&userId=" + encodeURIComponent(ids.userId);
    w.fetch(BASE + "/v1/surveys?" + q, { credentials: "omit", mode: "cors" })
      .then(function (r) { return r.ok ? r.json() : { surveys: [] }; })
      .then(function (doc) { surveys = doc.surveys || []; surveys.forEach(arm); })
      .catch(function () {});
  }
  function ready() {
    var consent = w.cx.consent;
    w.cx.consent = function (granted) { consent.apply(w.cx, arguments); if (granted) load(); };
    load();
  }
  w.cxSurvey = {
    show: function (id) { for (var i = 0; i < surveys.length; i++) if (surveys[i].id === id) return show(surveys[i]); return false; },
    reload: function () { started = false; armed = {}; load(); },
    surveys: function () { return surveys.slice(); }
  };
  (function wait(n) { // cx.js loads async too: wait for it (up to ~15 s)
    if (w.cx && w.cx.__loaded && w.cx.on) ready();
    else if (n < 150) setTimeout(function () { wait(n + 1); }, 100);
  })(0);
})(window, document);
