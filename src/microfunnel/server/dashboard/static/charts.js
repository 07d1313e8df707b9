/* microfunnel charts: small SVG charts drawn from JSON specs, no dependencies, no network.
 *
 * Every <figure class="chart" data-chart='{"type": ..., ...}'> on a page is drawn on load.
 * Types: funnel, bars, lines, heatmap, sankey, forest, spark. Tooltips are SVG <title>s.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#3b6fd8", "#e07b39", "#2a9d6f", "#c04a8f", "#8a6bd1", "#b59b2d", "#4aa3b5", "#777"];

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function tip(node, text) { el("title", {}, node, text); return node; }
  function svg(fig, w, h) {
    var s = el("svg", { viewBox: "0 0 " + w + " " + h, width: "100%", role: "img", preserveAspectRatio: "xMidYMid meet" });
    s.style.maxHeight = h + "px";
    fig.appendChild(s);
    return s;
  }
  function fmt(kind, v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var d = digits === undefined ? 1 : digits;
    if (kind === "pct") return (v * 100).toFixed(d) + " %";
    if (kind === "spct") return (v >= 0 ? "+" : "") + (v * 100).toFixed(d) + " %";
    if (kind === "pp") return (v >= 0 ? "+" : "") + (v * 100).toFixed(d) + " pp";
    if (kind === "x") return (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2)) + "×";
    if (kind === "money") return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
    if (kind === "hours") return v < 1 ? (v * 60).toFixed(0) + " min" : v.toFixed(1) + " h";
    return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(+v.toFixed(3));
  }
  function nice(lo, hi, n) {
    if (hi === lo) { hi = lo + 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var ticks = [];
    for (var t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toFixed(12));
    if (ticks[0] > lo) ticks.unshift(ticks[0] - step);
    if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
    return ticks;
  }
  function scale(d0, d1, r0, r1) {
    return function (v) { return d1 === d0 ? (r0 + r1) / 2 : r0 + (v - d0) / (d1 - d0) * (r1 - r0); };
  }
  function xval(x) { return typeof x === "string" ? Date.parse(x) : x; }

  /* funnel: {steps: [{label, count, rate, step_rate}], bottleneck: index} */
  function funnel(fig, spec) {
    var steps = spec.steps, rowH = 46, w = 760, left = 170, right = 150;
    var s = svg(fig, w, steps.length * rowH + 10);
    var max = Math.max.apply(null, steps.map(function (d) { return d.count; }).concat([1]));
    var x = scale(0, max, 0, w - left - right);
    steps.forEach(function (d, i) {
      var y = i * rowH + 6, bad = i === spec.bottleneck;
      el("text", { x: left - 10, y: y + 20, "text-anchor": "end", class: "lbl" }, s, d.label);
      var bar = el("rect", { x: left, y: y, width: Math.max(1, x(d.count)), height: 28, rx: 3, class: bad ? "bar bad" : "bar" }, s);
      tip(bar, d.label + ": " + fmt("num", d.count) + " (" + fmt("pct", d.rate) + " of the first step)");
      if (i > 0) {
        var lost = steps[i - 1].count - d.count;
        var ghost = el("rect", { x: left + x(d.count), y: y, width: Math.max(0, x(lost)), height: 28, class: "ghost" }, s);
        tip(ghost, fmt("num", lost) + " dropped off before " + d.label);
      }
      el("text", { x: left + x(d.count) + 6, y: y + 19, class: "val" }, s, fmt("num", d.count) + "  " + fmt("pct", d.rate));
      if (i > 0) el("text", { x: w - 4, y: y + 19, "text-anchor": "end", class: bad ? "val bad" : "val muted" }, s,
        fmt("pct", d.step_rate) + " from prev");
    });
  }

  /* bars: {labels, values, fmt} (vertical) */
  function bars(fig, spec) {
    var w = 760, h = 240, m = { l: 56, r: 10, t: 10, b: 60 };
    var s = svg(fig, w, h);
    var vals = spec.values, ticks = nice(Math.min(0, Math.min.apply(null, vals)), Math.max.apply(null, vals.concat([0])), 4);
    var y = scale(ticks[0], ticks[ticks.length - 1], h - m.b, m.t);
    var bw = (w - m.l - m.r) / vals.length;
    axisY(s, ticks, y, m.l, w - m.r, spec.fmt);
    vals.forEach(function (v, i) {
      var x0 = m.l + i * bw + bw * 0.15, top = y(Math.max(0, v)), bot = y(Math.min(0, v));
      tip(el("rect", { x: x0, y: top, width: bw * 0.7, height: Math.max(1, bot - top), class: "bar" }, s), spec.labels[i] + ": " + fmt(spec.fmt, v));
      el("text", { x: x0 + bw * 0.35, y: h - m.b + 14, "text-anchor": "end", transform: "rotate(-30 " + (x0 + bw * 0.35) + " " + (h - m.b + 14) + ")", class: "tick" }, s, spec.labels[i]);
    });
  }

  function axisY(s, ticks, y, x0, x1, kind) {
    ticks.forEach(function (t) {
      el("line", { x1: x0, x2: x1, y1: y(t), y2: y(t), class: "grid" }, s);
      el("text", { x: x0 - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" }, s, fmt(kind, t, 0));
    });
  }

  /* lines: {series: [{name, points: [[x, y]], band: [[x, lo, hi]], step, dashed}], x: "date"|"num",
   *         fmt, xfmt, markers: [{x, label}], ylabel, xlabel, zero} */
  function lines(fig, spec) {
    var w = 760, h = spec.height || 260, m = { l: 60, r: 16, t: 12, b: 40 };
    var s = svg(fig, w, h);
    var xs = [], ys = spec.zero ? [0] : [];
    spec.series.forEach(function (se) {
      se.points.forEach(function (p) { xs.push(xval(p[0])); if (p[1] !== null) ys.push(p[1]); });
      (se.band || []).forEach(function (b) { if (b[1] !== null) ys.push(b[1]); if (b[2] !== null) ys.push(b[2]); });
    });
    if (!xs.length) { el("text", { x: w / 2, y: h / 2, "text-anchor": "middle", class: "muted" }, s, "no data"); return; }
    var ticks = nice(Math.min.apply(null, ys), Math.max.apply(null, ys), 5);
    var x = scale(Math.min.apply(null, xs), Math.max.apply(null, xs), m.l, w - m.r);
    var y = scale(ticks[0], ticks[ticks.length - 1], h - m.b, m.t);
    axisY(s, ticks, y, m.l, w - m.r, spec.fmt);
    var xt = spec.x === "date" ? dateTicks(xs) : nice(Math.min.apply(null, xs), Math.max.apply(null, xs), 6);
    xt.forEach(function (t) {
      if (t < Math.min.apply(null, xs) || t > Math.max.apply(null, xs)) return;
      el("text", { x: x(t), y: h - m.b + 16, "text-anchor": "middle", class: "tick" }, s,
        spec.x === "date" ? new Date(t).toISOString().slice(5, 10) : fmt(spec.xfmt || "num", t, 0));
    });
    if (spec.xlabel) el("text", { x: (m.l + w - m.r) / 2, y: h - 4, "text-anchor": "middle", class: "tick" }, s, spec.xlabel);
    (spec.markers || []).forEach(function (mk) {
      var mx = x(xval(mk.x));
      el("line", { x1: mx, x2: mx, y1: m.t, y2: h - m.b, class: "marker" }, s);
      tip(el("text", { x: mx + 4, y: m.t + 12, class: "marker-label" }, s, mk.label), mk.label);
    });
    spec.series.forEach(function (se, i) {
      var color = se.color || PALETTE[i % PALETTE.length];
      if (se.band && se.band.length) {
        var up = se.band.map(function (b) { return [x(xval(b[0])), y(b[2])]; });
        var dn = se.band.map(function (b) { return [x(xval(b[0])), y(b[1])]; }).reverse();
        el("path", { d: "M" + up.concat(dn).map(function (p) { return p.join(","); }).join("L") + "Z", fill: color, opacity: 0.15 }, s);
      }
      var d = "", prev = null;
      se.points.forEach(function (p) {
        if (p[1] === null) { prev = null; return; }
        var px = x(xval(p[0])), py = y(p[1]);
        if (prev === null) d += "M" + px + "," + py;
        else d += se.step ? "H" + px + "V" + py : "L" + px + "," + py;
        prev = p;
      });
      el("path", { d: d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": se.dashed ? "5,4" : null }, s);
      if (!se.step && se.points.length <= 60) se.points.forEach(function (p) {
        if (p[1] === null) return;
        tip(el("circle", { cx: x(xval(p[0])), cy: y(p[1]), r: 3, fill: color }, s), se.name + " " + p[0] + ": " + fmt(spec.fmt, p[1], 2));
      });
    });
    legend(fig, spec.series.map(function (se, i) { return [se.name, se.color || PALETTE[i % PALETTE.length], se.dashed]; }));
  }

  function dateTicks(xs) {
    var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs), day = 864e5;
    var step = Math.max(1, Math.ceil((hi - lo) / day / 8)) * day, out = [];
    for (var t = lo; t <= hi; t += step) out.push(t);
    return out;
  }

  function legend(fig, items) {
    if (items.length < 2) return;
    var box = document.createElement("div");
    box.className = "legend";
    items.forEach(function (it) {
      var span = document.createElement("span");
      var sw = document.createElement("i");
      sw.style.background = it[1];
      if (it[2]) sw.className = "dashed";
      span.appendChild(sw);
      span.appendChild(document.createTextNode(it[0]));
      box.appendChild(span);
    });
    fig.appendChild(box);
  }

  /* `text` in at most `max` characters, cut in the middle (both its start and its end tell:
   * a metric's name, and its role or step). */
  function shorten(text, max) {
    if (text.length <= max) return text;
    var head = Math.ceil((max - 1) / 2);
    return text.slice(0, head) + "…" + text.slice(text.length - (max - 1 - head));
  }

  /* A label in at most two lines of `max` characters: split at the "_" or space nearest its
   * middle, then cut with an ellipsis (the caller adds the whole label as a tooltip). */
  function wrap(text, max) {
    if (text.length <= max) return [text];
    var cut = -1, mid = text.length / 2;
    for (var i = 1; i < text.length - 1; i++) {
      if ((text[i] === "_" || text[i] === " ") && (cut < 0 || Math.abs(i - mid) < Math.abs(cut - mid))) cut = i;
    }
    var parts = cut > 0 ? [text.slice(0, cut + 1), text.slice(cut + 1)] : [text];
    return parts.map(function (part) { return part.length > max ? part.slice(0, max - 1) + "…" : part; });
  }

  /* heatmap: {rows, cols, values: [[v]], fmt, high: "bad"|"good", counts: [[n]]} */
  function heatmap(fig, spec) {
    var cw = Math.max(60, Math.min(120, 560 / spec.cols.length)), ch = 30, left = 150, top = 48;
    var w = left + cw * spec.cols.length + 10, h = top + ch * spec.rows.length + 6;
    var s = svg(fig, w, h);
    var flat = [].concat.apply([], spec.values).filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, flat), hi = Math.max.apply(null, flat);
    var fits = Math.floor((cw - 4) / 6);  /* characters of an 11px label in a column */
    spec.cols.forEach(function (c, j) {
      var parts = wrap(c, fits);
      parts.forEach(function (part, k) {
        var y = top - 10 - (parts.length - 1 - k) * 12;
        var label = el("text", { x: left + cw * j + cw / 2, y: y, "text-anchor": "middle", class: "tick" }, s, part);
        if (parts.join("") !== c) tip(label, c);
      });
    });
    spec.rows.forEach(function (r, i) {
      el("text", { x: left - 8, y: top + ch * i + 19, "text-anchor": "end", class: "lbl" }, s, r);
      spec.cols.forEach(function (c, j) {
        var v = spec.values[i][j];
        var t = v === null || hi === lo ? 0 : (v - lo) / (hi - lo);
        var fill = v === null ? "var(--empty)" : spec.high === "good" ? "rgba(42,157,111," + (0.1 + 0.8 * t) + ")" : "rgba(214,69,65," + (0.1 + 0.8 * t) + ")";
        var cell = el("rect", { x: left + cw * j + 1, y: top + ch * i + 1, width: cw - 2, height: ch - 2, fill: fill, rx: 2 }, s);
        var n = spec.counts ? " (n = " + fmt("num", spec.counts[i][j]) + ")" : "";
        tip(cell, r + " × " + c + ": " + fmt(spec.fmt, v) + n);
        el("text", { x: left + cw * j + cw / 2, y: top + ch * i + 19, "text-anchor": "middle", class: t > 0.6 ? "cell dark" : "cell" }, s, fmt(spec.fmt, v));
      });
    });
  }

  /* sankey: {nodes: [{id, name, level, count}], links: [{source, target, value}]} */
  function sankey(fig, spec) {
    var levels = {}, w = 900, h = 420, nodeW = 12, pad = 10;
    spec.nodes.forEach(function (n) { (levels[n.level] = levels[n.level] || []).push(n); });
    var keys = Object.keys(levels).map(Number).sort(function (a, b) { return a - b; });
    var s = svg(fig, w, h);
    var colW = keys.length > 1 ? (w - 160) / (keys.length - 1) : 0;
    var maxTotal = Math.max.apply(null, keys.map(function (k) {
      return levels[k].reduce(function (a, n) { return a + n.count; }, 0);
    }));
    var k = (h - 20 - pad * 8) / maxTotal, pos = {};
    keys.forEach(function (lv, i) {
      var y = 10;
      levels[lv].forEach(function (n) {
        pos[n.id] = { x: 70 + i * colW, y: y, h: Math.max(2, n.count * k), out: 0, inn: 0, n: n };
        y += Math.max(2, n.count * k) + pad;
      });
    });
    spec.links.forEach(function (l) {
      var a = pos[l.source], b = pos[l.target];
      if (!a || !b) return;
      var th = Math.max(1, l.value * k), y0 = a.y + a.out + th / 2, y1 = b.y + b.inn + th / 2;
      a.out += th; b.inn += th;
      var x0 = a.x + nodeW, x1 = b.x, mx = (x0 + x1) / 2;
      var p = el("path", { d: "M" + x0 + "," + y0 + "C" + mx + "," + y0 + " " + mx + "," + y1 + " " + x1 + "," + y1, class: "link", "stroke-width": th }, s);
      tip(p, a.n.name + " → " + b.n.name + ": " + fmt("num", l.value));
    });
    Object.keys(pos).forEach(function (id, i) {
      var p = pos[id];
      var color = p.n.name.charAt(0) === "$" ? "#999" : PALETTE[Math.abs(hash(p.n.name)) % PALETTE.length];
      tip(el("rect", { x: p.x, y: p.y, width: nodeW, height: p.h, fill: color }, s), p.n.name + ": " + fmt("num", p.n.count));
      var right = p.x < w - 200;
      el("text", { x: right ? p.x + nodeW + 4 : p.x - 4, y: p.y + Math.min(p.h / 2 + 4, p.h + 10), "text-anchor": right ? "start" : "end", class: "tick" }, s,
        p.n.name + " " + fmt("num", p.n.count));
    });
  }
  function hash(t) { var h = 0; for (var i = 0; i < t.length; i++) h = (h * 31 + t.charCodeAt(i)) | 0; return h; }

  /* forest: {rows: [{label, est, lo, hi, flag}], fmt, ref, log} */
  function forest(fig, spec) {
    var rowH = 28, w = 960, left = 330, right = 250, h = spec.rows.length * rowH + 34;
    var s = svg(fig, w, h);
    var tr = spec.log ? Math.log : function (v) { return v; };
    var vals = [tr(spec.ref)];
    spec.rows.forEach(function (r) { [r.lo, r.hi, r.est].forEach(function (v) { if (v !== null && isFinite(tr(v))) vals.push(tr(v)); }); });
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals), span = (hi - lo) || 1;
    var x = scale(lo - span * 0.05, hi + span * 0.05, left, w - right);
    var rx = x(tr(spec.ref));
    el("line", { x1: rx, x2: rx, y1: 4, y2: h - 24, class: "marker" }, s);
    el("text", { x: rx, y: h - 8, "text-anchor": "middle", class: "tick" }, s, fmt(spec.fmt, spec.ref));
    spec.rows.forEach(function (r, i) {
      var y = 16 + i * rowH;
      var label = el("text", { x: left - 10, y: y + 4, "text-anchor": "end", class: "lbl" }, s, shorten(r.label, 48));
      if (label.textContent !== r.label) tip(label, r.label);
      if (r.est === null) return;
      var cls = r.flag === "good" ? "good" : r.flag === "bad" ? "bad" : "neutral";
      if (r.lo !== null && r.hi !== null)
        el("line", { x1: x(tr(r.lo)), x2: x(tr(r.hi)), y1: y, y2: y, class: "ci " + cls }, s);
      tip(el("circle", { cx: x(tr(r.est)), cy: y, r: 5, class: "pt " + cls }, s),
        r.label + ": " + fmt(spec.fmt, r.est) + " [" + fmt(spec.fmt, r.lo) + ", " + fmt(spec.fmt, r.hi) + "]");
      el("text", { x: w - 4, y: y + 4, "text-anchor": "end", class: "val " + cls }, s,
        fmt(spec.fmt, r.est) + " [" + fmt(spec.fmt, r.lo) + ", " + fmt(spec.fmt, r.hi) + "]");
    });
  }

  /* spark: {values, fmt} */
  function spark(fig, spec) {
    var w = 120, h = 32, v = spec.values.filter(function (a) { return a !== null; });
    var s = svg(fig, w, h);
    if (v.length < 2) return;
    var x = scale(0, spec.values.length - 1, 2, w - 2);
    var y = scale(Math.min.apply(null, v), Math.max.apply(null, v), h - 3, 3);
    var d = spec.values.map(function (a, i) { return (i ? "L" : "M") + x(i) + "," + y(a === null ? 0 : a); }).join("");
    el("path", { d: d, fill: "none", stroke: spec.color || PALETTE[0], "stroke-width": 1.6 }, s);
  }

  var TYPES = { funnel: funnel, bars: bars, lines: lines, heatmap: heatmap, sankey: sankey, forest: forest, spark: spark };

  function drawAll(root) {
    (root || document).querySelectorAll("figure.chart[data-chart]").forEach(function (fig) {
      if (fig.dataset.drawn) return;
      var spec = JSON.parse(fig.getAttribute("data-chart"));
      var draw = TYPES[spec.type];
      if (!draw) throw new Error("unknown chart type " + spec.type);
      draw(fig, spec);
      fig.dataset.drawn = "1";
    });
  }
  window.microfunnelCharts = { drawAll: drawAll, format: fmt };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  else drawAll();
})();
