/* microfunnel dashboard behaviour: funnel builder rows, the replay button, the live event tail,
 * the forecast sliders. Everything talks to this server only. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function funnelBuilder() {
    var box = document.getElementById("funnel-steps");
    if (!box) return;
    var add = document.getElementById("add-step");
    add.addEventListener("click", function () {
      var selects = box.querySelectorAll("select");
      var copy = selects[selects.length - 1].cloneNode(true);
      copy.selectedIndex = Math.min(copy.selectedIndex + 1, copy.options.length - 1);
      box.appendChild(copy);
    });
    var remove = document.getElementById("remove-step");
    remove.addEventListener("click", function () {
      var selects = box.querySelectorAll("select");
      if (selects.length > 2) box.removeChild(selects[selects.length - 1]);
    });
  }

  function replayButton() {
    var button = document.getElementById("replay");
    if (!button) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      var out = document.getElementById("replay-result");
      out.textContent = "replaying…";
      fetch("/api/quarantine/replay", { method: "POST", credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
        .then(function (res) {
          if (!res[0]) throw new Error(res[1].error ? res[1].error.message : "replay failed");
          var b = res[1];
          out.textContent = "replayed: " + JSON.stringify(b);
          out.dataset.done = "1";
          setTimeout(function () {
            var url = new URL(window.location.href);
            url.searchParams.set("fresh", "1");  // wait for results on the replayed data
            window.location.replace(url.toString());
          }, 600);
        })
        .catch(function (e) { out.textContent = String(e.message || e); button.disabled = false; });
    });
  }

  function liveTail() {
    var table = document.getElementById("tail");
    if (!table) return;
    var body = table.querySelector("tbody");
    function refresh() {
      fetch("/api/events/tail?limit=15", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          body.textContent = "";
          rows.forEach(function (row) {
            var tr = document.createElement("tr");
            [row.timestamp, row.event, row.device, row.page_path, row.value === null ? "" : row.value, row.person_id]
              .forEach(function (v) {
                var td = document.createElement("td");
                td.textContent = v === null || v === undefined ? "" : String(v);
                tr.appendChild(td);
              });
            body.appendChild(tr);
          });
          table.dataset.loaded = "1";
        });
    }
    refresh();
    var timer = setInterval(refresh, 5000);
    window.addEventListener("beforeunload", function () { clearInterval(timer); });
  }

  function forecastSliders() {
    document.querySelectorAll("input[type=range][data-out]").forEach(function (input) {
      var out = document.getElementById(input.dataset.out);
      var show = function () { out.textContent = (input.value * 100).toFixed(1) + " %"; };
      input.addEventListener("input", show);
      show();
    });
  }

  onReady(function () {
    funnelBuilder();
    replayButton();
    liveTail();
    forecastSliders();
  });
})();
