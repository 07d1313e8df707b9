/*! microfunnel.js: micro-conversion tracking and triggered experiments. Apache-2.0. */
/*
 * No dependencies. Before mf.consent(true) nothing identifying is stored or sent: no cookie, no
 * localStorage id, events go out without anonymous_id / user_id / session_id and with
 * context.consent.analytics = false. Batches leave on a short timer, and by navigator.sendBeacon
 * when the page is hidden; sendBeacon cannot set headers, so the write key travels in the body.
 */
(function (w, d) {
  "use strict";
  var VERSION = "0.1.0";
  var AID = "mf_aid", SID = "mf_sid", UID = "mf_uid", SEEN = "mf_exp";
  var SESSION_MS = 30 * 60 * 1000, IDLE_MS = 30000, BATCH = 20;
  var SCROLL_MARKS = [25, 50, 75, 90];

  var cfg = { host: "", writeKey: "", flushInterval: 1000, currency: "USD" };
  var queue = [], timer = 0, consent = false, anon = null, userId = null;
  var loadedAt = Date.now(), lastActive = loadedAt, lastTick = loadedAt, engagedMs = 0, reportedMs = 0;
  var maxScroll = 0, scrolled = {}, exited = false, cartValue = 0;
  var features = {}, seen = {}, pending = [], ready, markReady;
  ready = new Promise(function (r) { markReady = r; });

  // ---- storage (only ever touched with consent) ---------------------------------------------
  function load(key) {
    try { return w.localStorage.getItem(key); } catch (e) { return null; }
  }
  function store(key, value) {
    try {
      if (value == null) w.localStorage.removeItem(key); else w.localStorage.setItem(key, value);
    } catch (e) { /* storage blocked: ids last for this page only */ }
  }

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16);
    w.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return [h.slice(0, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10), h.slice(10)]
      .map(function (p) { return p.join(""); }).join("-");
  }

  function sessionId() {
    var now = Date.now(), s = (load(SID) || "").split("."), id = s[0];
    if (!id || now - Number(s[1]) > SESSION_MS) id = uuid();
    store(SID, id + "." + now);
    return id;
  }

  function device() {
    var ua = navigator.userAgent;
    if (/iPad|Tablet/i.test(ua) || (/Android/i.test(ua) && !/Mobi/i.test(ua))) return "tablet";
    return /Mobi|iPhone|Android/i.test(ua) ? "mobile" : "desktop";
  }

  function context() {
    var c = {
      page_url: location.href,
      page_path: location.pathname,
      device: device(),
      user_agent: navigator.userAgent,
      consent: { analytics: consent },
      library: { name: "microfunnel.js", version: VERSION }
    };
    if (d.referrer) c.referrer = d.referrer;
    new URLSearchParams(location.search).forEach(function (v, k) {
      if (k.indexOf("utm_") === 0) c[k] = v;
    });
    return c;
  }

  function strip(ev) {
    delete ev.anonymous_id; delete ev.user_id; delete ev.session_id;
    ev.context.consent = { analytics: false };
  }

  // ---- sending ------------------------------------------------------------------------------
  function track(name, props) {
    var ev = {
      event: name,
      event_id: uuid(),
      timestamp: new Date().toISOString(),
      properties: props || {},
      context: context()
    };
    if (consent) {
      ev.anonymous_id = anon;
      ev.session_id = sessionId();
      if (userId) ev.user_id = userId;
    }
    queue.push(ev);
    if (queue.length >= BATCH) flush();
    else if (!timer) timer = setTimeout(flush, cfg.flushInterval);
    return ev.event_id;
  }

  function flush(beacon) {
    clearTimeout(timer);
    timer = 0;
    while (queue.length) post(queue.splice(0, BATCH), 0, beacon);
  }

  function post(batch, attempt, beacon) {
    var url = cfg.host + "/v1/events";
    // text/plain keeps the request "simple": no CORS preflight, and sendBeacon accepts it.
    var body = JSON.stringify({ batch: batch, sent_at: new Date().toISOString(), write_key: cfg.writeKey });
    if (beacon && navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    function retry() {
      if (attempt < 4) setTimeout(function () { post(batch, attempt + 1); }, (500 << attempt) * (1 + Math.random()));
    }
    fetch(url, { method: "POST", body: body, keepalive: true, credentials: "omit", headers: { "Content-Type": "text/plain" } })
      .then(function (r) { if (r.status >= 500 || r.status === 408 || r.status === 429) retry(); }, retry);
  }

  // ---- flags: a small GrowthBook-compatible evaluator ---------------------------------------
  function fnv(s) {
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
    return h;
  }
  function hash(seed, value, version) {
    if (version === 2) return (fnv(fnv(seed + value) + "") % 10000) / 10000;
    if (version === 1) return (fnv(value + seed) % 1000) / 1000;
    return null;
  }
  function bucketRanges(n, coverage, weights) {
    coverage = coverage == null ? 1 : Math.min(1, Math.max(0, coverage));
    var sum = (weights || []).reduce(function (a, b) { return a + b; }, 0);
    if (!weights || weights.length !== n || sum < 0.99 || sum > 1.01) {
      weights = [];
      for (var i = 0; i < n; i++) weights.push(1 / n);
    }
    var start = 0;
    return weights.map(function (wt) { var s = start; start += wt; return [s, s + coverage * wt]; });
  }

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o !== null && typeof o === "object" && k in o ? o[k] : null; }, obj);
  }
  function isOps(c) {
    if (!c || typeof c !== "object" || Array.isArray(c)) return false;
    var keys = Object.keys(c);
    return keys.length > 0 && keys.every(function (k) { return k[0] === "$"; });
  }
  function isIn(v, list) {
    if (!Array.isArray(list)) return false;
    if (Array.isArray(v)) return v.some(function (x) { return list.indexOf(x) >= 0; });
    return list.indexOf(v) >= 0;
  }
  function op(o, v, e) {
    switch (o) {
      case "$eq": return v === e;
      case "$ne": return v !== e;
      case "$in": return isIn(v, e);
      case "$nin": return Array.isArray(e) && !isIn(v, e);
      case "$gt": return v > e;
      case "$gte": return v >= e;
      case "$lt": return v < e;
      case "$lte": return v <= e;
      case "$exists": return e ? v != null : v == null;
      case "$not": return !matches(e, v);
    }
    return false; // an operator this evaluator does not know never matches
  }
  function matches(c, v) {
    if (!isOps(c)) return JSON.stringify(v) === JSON.stringify(c);
    for (var o in c) if (!op(o, v, c[o])) return false;
    return true;
  }
  function cond(obj, c) {
    for (var k in c) {
      var x = c[k];
      if (k === "$or") { if (x.length && !x.some(function (s) { return cond(obj, s); })) return false; }
      else if (k === "$and") { if (!x.every(function (s) { return cond(obj, s); })) return false; }
      else if (k === "$not") { if (cond(obj, x)) return false; }
      else if (!matches(x, get(obj, k))) return false;
    }
    return true;
  }

  function evaluate(key, attrs) {
    var f = features[key];
    if (!f) return { value: null, source: "unknownFeature" };
    var rules = f.rules || [], exposures = [];
    for (var i = 0; i < rules.length; i++) {
      var r = rules[i], id = attrs[r.hashAttribute || "id"], n;
      id = id == null ? "" : String(id);
      // Prerequisites and filters are not evaluated here: such a rule is skipped, never guessed.
      if (r.parentConditions || r.filters || (r.condition && !cond(attrs, r.condition))) continue;
      if ("force" in r) {
        if (!inRollout(r, key, id)) continue;
        return { value: r.force, source: "force", exposures: exposures };
      }
      if (!r.variations || !id) continue;
      var ns = r.namespace, exp = r.key || key;
      if (ns && !((n = hash("__" + ns[0], id, 1)) >= ns[1] && n < ns[2])) continue;
      n = hash(r.seed || exp, id, r.hashVersion || 1);
      var ranges = r.ranges || bucketRanges(r.variations.length, r.coverage, r.weights), v = -1;
      for (var j = 0; j < ranges.length && n != null; j++) if (n >= ranges[j][0] && n < ranges[j][1]) { v = j; break; }
      if (v < 0) continue;
      var meta = (r.meta || [])[v] || {};
      exposures.push({ experiment_id: exp, variation_id: meta.key || String(v), feature_id: key });
      if (!meta.passthrough) return { value: r.variations[v], source: "experiment", exposures: exposures };
    }
    return { value: f.defaultValue === undefined ? null : f.defaultValue, source: "defaultValue", exposures: exposures };
  }

  function inRollout(r, key, id) {
    if (!r.range && r.coverage == null) return true;
    if (!id || (!r.range && r.coverage === 0)) return false;
    var n = hash(r.seed || key, id, r.hashVersion || 1);
    return n != null && (r.range ? n >= r.range[0] && n < r.range[1] : n <= r.coverage);
  }

  function attributes(extra) {
    var a = { id: anon, device: device(), url: location.href, path: location.pathname };
    if (userId) a.userId = userId;
    for (var k in extra || {}) a[k] = extra[k];
    return a;
  }

  function expose(exposures, trigger) {
    exposures.forEach(function (x) {
      var k = anon + "|" + x.experiment_id + "|" + x.variation_id;
      if (!anon || seen[k]) return;
      seen[k] = 1;
      if (consent) store(SEEN, JSON.stringify(Object.keys(seen).slice(-200)));
      if (trigger) x.trigger = trigger;
      track("experiment_exposure", x);
    });
  }

  function fired(t) {
    return (t.timeOnPageSec == null || Date.now() - loadedAt >= t.timeOnPageSec * 1000) &&
      (t.scrollPercent == null || maxScroll >= t.scrollPercent) &&
      (!t.exitIntent || exited) &&
      (t.cartValueAbove == null || cartValue > t.cartValueAbove) &&
      (t.device == null || t.device === device());
  }

  function check() {
    pending = pending.filter(function (p) {
      if (!fired(p.trigger)) return true;
      var res = evaluate(p.key, attributes(p.attributes));
      expose(res.exposures || [], p.label);
      p.done(res.value);
      return false;
    });
  }

  function flag(key, opts) {
    opts = opts || {};
    var t = opts.trigger || {};
    return ready.then(function () {
      return new Promise(function (done) {
        pending.push({
          key: key, trigger: t, attributes: opts.attributes,
          label: Object.keys(t).map(function (k) { return k + ":" + t[k]; }).join(","),
          done: function (v) { if (opts.onTrigger) opts.onTrigger(v); done(v); }
        });
        check();
      });
    });
  }

  // ---- e-commerce ---------------------------------------------------------------------------
  function item(it, qty) {
    var out = {};
    for (var k in it) out[k === "id" ? "item_id" : k === "name" ? "item_name" : k] = it[k];
    if (qty != null) out.quantity = qty;
    return out;
  }
  function total(items) {
    return items.reduce(function (s, it) { return s + (Number(it.price) || 0) * (it.quantity == null ? 1 : it.quantity); }, 0);
  }
  function commerce(name, data, items) {
    var props = { currency: data.currency || cfg.currency, value: data.value != null ? data.value : total(items), items: items };
    for (var k in data) if (k !== "items" && !(k in props)) props[k] = data[k];
    return track(name, props);
  }

  // ---- automatic events ---------------------------------------------------------------------
  function pageView() {
    maxScroll = 0;
    scrolled = {};
    exited = false;
    var p = { page_location: location.href, page_title: d.title };
    if (d.referrer) p.page_referrer = d.referrer;
    track("page_view", p);
  }

  function onScroll() {
    var el = d.documentElement, height = Math.max(el.scrollHeight, d.body ? d.body.scrollHeight : 0);
    var pct = height ? ((w.scrollY + w.innerHeight) / height) * 100 : 100;
    maxScroll = Math.max(maxScroll, Math.round(pct));
    SCROLL_MARKS.forEach(function (m) {
      if (maxScroll >= m && !scrolled[m]) { scrolled[m] = 1; track("scroll_depth", { percent: m }); }
    });
    check();
  }

  function onHide() {
    engaged(true);
    var s = Math.round((engagedMs - reportedMs) / 100) / 10;
    if (s > 0) { reportedMs = engagedMs; track("engaged_time", { seconds: s }); }
    flush(true);
  }

  // Engaged = visible and touched, scrolled or moved in within the last IDLE_MS.
  function engaged(hiding) {
    var now = Date.now(), until = Math.min(now, lastActive + IDLE_MS);
    if ((hiding || d.visibilityState === "visible") && until > lastTick) engagedMs += until - lastTick;
    lastTick = now;
  }

  function onClick(e) {
    var el = e.target && e.target.closest && e.target.closest("[data-mf-event]");
    if (!el) return;
    var props = {};
    Array.prototype.forEach.call(el.attributes, function (a) {
      if (a.name.indexOf("data-mf-") === 0 && a.name !== "data-mf-event" && a.name !== "data-mf-props") {
        props[a.name.slice(8).replace(/-/g, "_")] = a.value;
      }
    });
    var json = el.getAttribute("data-mf-props");
    if (json) try { var extra = JSON.parse(json); for (var k in extra) props[k] = extra[k]; } catch (err) { /* ignored */ }
    track(el.getAttribute("data-mf-event"), props);
  }

  function onLeave(e) {
    if (exited || e.relatedTarget || e.clientY > 0 || device() !== "desktop") return;
    exited = true;
    track("exit_intent", { page_path: location.pathname });
    check();
  }

  function activity() {
    engaged();
    lastActive = Date.now();
  }

  function listen() {
    w.addEventListener("scroll", onScroll, { passive: true });
    d.addEventListener("click", onClick, true);
    d.addEventListener("mouseout", onLeave);
    ["mousemove", "keydown", "touchstart", "scroll", "click"].forEach(function (t) {
      w.addEventListener(t, activity, { passive: true, capture: true });
    });
    d.addEventListener("visibilitychange", function () {
      if (d.visibilityState === "hidden") onHide(); else lastTick = lastActive = Date.now();
    });
    w.addEventListener("pagehide", onHide);
    setInterval(function () { engaged(); check(); }, 1000);
    var push = history.pushState;
    history.pushState = function () { push.apply(history, arguments); pageView(); };
    w.addEventListener("popstate", pageView);
  }

  // ---- public API ---------------------------------------------------------------------------
  var mf = {
    version: VERSION,
    init: function (o) {
      for (var k in o) cfg[k] = o[k];
      cfg.host = String(cfg.host || "").replace(/\/$/, "");
      cartValue = Number(cfg.cartValue) || 0;
      if (o.consent) mf.consent(true); // without it, storage is neither read nor written
      listen();
      fetch(cfg.host + "/api/features/" + encodeURIComponent(cfg.writeKey), { credentials: "omit" })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (p) { features = (p && p.features) || {}; }, function () { /* flags fall back to defaults */ })
        .then(function () { markReady(); check(); });
      pageView();
    },
    consent: function (yes) {
      consent = !!yes;
      if (consent) {
        anon = load(AID) || uuid();
        store(AID, anon);
        userId = userId || load(UID);
        try { JSON.parse(load(SEEN) || "[]").forEach(function (k) { seen[k] = 1; }); } catch (e) { /* ignored */ }
      } else {
        [AID, SID, UID, SEEN].forEach(function (k) { store(k, null); });
        anon = userId = null;
        queue.forEach(strip);
      }
    },
    track: track,
    page: pageView,
    identify: function (id, traits) {
      if (!consent) return;
      userId = String(id);
      store(UID, userId);
      track("$identify", traits || {});
    },
    flush: function () { flush(); },
    flag: flag,
    evaluate: function (key, attrs) { return evaluate(key, attributes(attrs)).value; },
    viewItem: function (it) { return commerce("view_item", it, [item(it)]); },
    addToCart: function (it, qty) {
      var items = [item(it, qty || 1)], id = commerce("add_to_cart", it, items);
      cartValue += total(items);
      check();
      return id;
    },
    beginCheckout: function (cart) {
      var items = (cart.items || []).map(function (it) { return item(it); });
      cartValue = cart.value != null ? cart.value : total(items);
      check();
      return commerce("begin_checkout", cart, items);
    },
    purchase: function (order) {
      cartValue = 0;
      return commerce("purchase", order, (order.items || []).map(function (it) { return item(it); }));
    },
    error: function (type, props) {
      var p = { error_type: type };
      for (var k in props || {}) p[k] = props[k];
      return track("checkout_error", p);
    },
    _internals: { hash: hash, bucketRanges: bucketRanges, cond: cond }
  };

  var early = w.mf;
  w.mf = mf;
  if (Array.isArray(early)) early.forEach(function (call) { mf[call[0]].apply(mf, call.slice(1)); });
})(window, document);
