// usercom-mock dashboard: live updates without a page reload.
//
// Every second (while the tab is visible and live updates are on) the page asks the server for
// the same view's <main> content with If-None-Match; a 304 costs nothing, a 200 replaces <main>
// and keeps keyboard focus where it was. Active fault rules come from GET /__admin/faults; when
// that endpoint does not exist (a build without fault injection) the section says so.
// No framework, no build step, no external URL.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var status = document.getElementById("live-status");
  var toggle = document.getElementById("live-toggle");
  if (!main || !main.dataset.fragment) return;
  var src = main.dataset.fragment;
  var etag = null;
  var live = true;
  var busy = false;
  var faults = null; // the last rendered fault rules as JSON text

  function counts() {
    var p = main.querySelector("[data-counts]");
    return p ? p.textContent : "";
  }

  // A running clock ticks here, from the server time of the last swap, so an idle page needs no
  // new content every second.
  var clockBase = { at: Date.now(), el: null };
  function tickClock() {
    var t = main.querySelector('time[data-field="clock"][data-running]');
    if (!t) return;
    if (clockBase.el !== t) clockBase = { at: Date.now(), el: t };
    var server = Date.parse(t.getAttribute("datetime"));
    if (isNaN(server)) return;
    var now = new Date(server + (Date.now() - clockBase.at));
    t.textContent = now.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  // Identify the focused element inside <main> so it can be found again after a swap.
  function focusKey() {
    var a = document.activeElement;
    if (!a || !main.contains(a) || a === main) return null;
    if (a.id) return "#" + CSS.escape(a.id);
    if (a.getAttribute("href")) return 'a[href="' + CSS.escape(a.getAttribute("href")) + '"]';
    if (a.matches("summary")) {
      var all = main.querySelectorAll("summary");
      for (var i = 0; i < all.length; i++) if (all[i] === a) return { summary: i };
    }
    return null;
  }

  function restoreFocus(key) {
    if (!key) return;
    var el = typeof key === "string" ? main.querySelector(key) : main.querySelectorAll("summary")[key.summary];
    if (el) el.focus({ preventScroll: true });
  }

  function openDetails() {
    var out = [];
    main.querySelectorAll("details[open]").forEach(function (d) {
      var row = d.closest("tr");
      out.push(row ? row.querySelector("th") && row.querySelector("th").textContent : null);
    });
    return out;
  }

  function reopenDetails(seqs) {
    if (!seqs.length) return;
    main.querySelectorAll("details").forEach(function (d) {
      var row = d.closest("tr");
      var th = row && row.querySelector("th");
      if (th && seqs.indexOf(th.textContent) >= 0) d.open = true;
    });
  }

  function announce(text) {
    status.textContent = text;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function renderFaults(box, body) {
    var node;
    if (body === "absent") {
      node = el("p", "Fault injection is not available in this build of the simulator (no /__admin/faults).", "empty");
    } else if (body === "error") {
      node = el("p", "Could not load the fault rules.", "empty");
    } else {
      var rules = Array.isArray(body) ? body : body && Array.isArray(body.faults) ? body.faults : [];
      if (!rules.length) {
        node = el("p", "No active faults: every request reaches the API.", "empty");
      } else {
        node = document.createElement("div");
        node.className = "table-wrap";
        node.setAttribute("role", "region");
        node.setAttribute("aria-label", "Active fault rules");
        node.tabIndex = 0;
        var t = document.createElement("table");
        t.appendChild(el("caption", "Active fault rules"));
        var head = t.createTHead().insertRow();
        ["#", "Match", "Effect", "When", "Hits", "Remaining"].forEach(function (c) {
          var th = el("th", c);
          th.scope = "col";
          head.appendChild(th);
        });
        var tb = t.createTBody();
        rules.forEach(function (r) {
          var tr = tb.insertRow();
          tr.className = "has-fault";
          var th = el("th", String(r.id === undefined ? "" : r.id));
          th.scope = "row";
          tr.appendChild(th);
          tr.appendChild(el("td")).appendChild(el("code", JSON.stringify(r.match || {})));
          tr.appendChild(el("td")).appendChild(el("code", JSON.stringify(r.effect || {})));
          tr.appendChild(el("td", r.when || "before"));
          tr.appendChild(el("td", String(r.hits === undefined ? "" : r.hits)));
          tr.appendChild(el("td", r.remaining === undefined || r.remaining === null ? "unlimited" : String(r.remaining)));
        });
        node.appendChild(t);
      }
    }
    box.replaceChildren(node);
  }

  function loadFaults() {
    return fetch("/__admin/faults", { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404 || r.status === 405) return "absent";
        if (!r.ok) return "error";
        return r.json();
      })
      .catch(function () {
        return "error";
      })
      .then(function (body) {
        // Re-render when the rules changed, or when a swap of <main> replaced the box.
        var text = typeof body === "string" ? body : JSON.stringify(body);
        var box = main.querySelector("[data-faults]");
        if (box && (text !== faults || !box.hasAttribute("data-rendered"))) {
          faults = text;
          renderFaults(box, body);
          box.setAttribute("data-rendered", "");
        }
      });
  }

  function poll() {
    if (!live || busy || document.hidden) return;
    busy = true;
    var headers = {};
    if (etag) headers["If-None-Match"] = etag;
    fetch(src, { headers: headers, cache: "no-store" })
      .then(function (r) {
        if (r.status === 304) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        etag = r.headers.get("ETag");
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        var before = counts();
        var key = focusKey();
        var open = openDetails();
        main.innerHTML = html;
        reopenDetails(open);
        restoreFocus(key);
        var after = counts();
        if (before !== after) announce("Updated " + new Date().toLocaleTimeString() + ": " + after);
      })
      .catch(function (e) {
        announce("Live update failed (" + e.message + "); retrying.");
      })
      .then(loadFaults)
      .finally(function () {
        busy = false;
      });
  }

  toggle.addEventListener("click", function () {
    live = !live;
    toggle.setAttribute("aria-pressed", String(live));
    toggle.textContent = live ? "Live updates on" : "Live updates paused";
    announce(live ? "Live updates resumed." : "Live updates paused.");
    if (live) poll();
  });

  loadFaults();
  setInterval(poll, 1000);
  setInterval(tickClock, 1000);
})();
