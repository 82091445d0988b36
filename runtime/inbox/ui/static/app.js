// The inbox's page: live updates, keyboard shortcuts and the template picker. No inline
// script anywhere (the Content-Security-Policy forbids it); htmx does the fetching.
(function () {
  "use strict";

  // Live: one EventSource on the agents' API; every event (a message, a status tick, an
  // assignment…) fires "inbox-event" on the body, which the live regions (hx-trigger)
  // answer by fetching their fragment again. EventSource reconnects by itself and sends
  // Last-Event-ID, so nothing is missed while the connection was down.
  function live() {
    if (!document.querySelector("[data-live]") || !window.EventSource) return;
    var es = new EventSource("/api/v1/events");
    var pending = null;
    function poke() {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        document.body.dispatchEvent(new CustomEvent("inbox-event"));
      }, 150);
    }
    es.onmessage = poke;
    // What changed between rendering the page and the stream opening (a reply's first
    // tick, often) is in no event this page will get: fetch the live regions once then.
    es.onopen = poke;
    // The kinds of docs/live.md.
    ["message.created", "message.status", "conversation.created", "conversation.assigned", "conversation.transferred",
      "conversation.unassigned", "conversation.status", "conversation.accepted", "availability.changed",
      "queue.changed"].forEach(function (k) {
      es.addEventListener(k, poke);
    });
    es.addEventListener("error", function () { /* EventSource retries */ });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // Keyboard: j / k move through the list, Enter or o opens, r focuses the reply, e
  // resolves, g goes back to the list. Not while typing in a field.
  function keys() {
    document.addEventListener("keydown", function (e) {
      var t = e.target;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
      var cur = document.querySelector("tr.row.current");
      var i = rows.indexOf(cur);
      switch (e.key) {
        case "j": case "k":
          if (!rows.length) return;
          if (cur) cur.classList.remove("current");
          i = e.key === "j" ? Math.min(i + 1, rows.length - 1) : Math.max(i - 1, 0);
          rows[i].classList.add("current");
          rows[i].querySelector("a").focus();
          e.preventDefault();
          break;
        case "o": case "Enter":
          if (cur && e.key === "o") { cur.querySelector("a").click(); e.preventDefault(); }
          break;
        case "r":
          var reply = document.getElementById("reply-text") || document.getElementById("template");
          if (reply) { reply.focus(); e.preventDefault(); }
          break;
        case "e":
          var resolve = document.getElementById("resolve");
          if (resolve) { resolve.click(); e.preventDefault(); }
          break;
        case "g":
          window.location.href = "/conversations";
          break;
      }
    });
  }

  // The template picker shows as many parameter fields as the chosen template has.
  function picker() {
    var sel = document.getElementById("template");
    if (!sel) return;
    function show() {
      var opt = sel.options[sel.selectedIndex];
      var n = opt ? parseInt(opt.getAttribute("data-params") || "0", 10) : 0;
      document.querySelectorAll(".param").forEach(function (p) {
        var k = parseInt(p.getAttribute("data-n"), 10);
        p.hidden = k > n;
        var input = p.querySelector("input");
        input.disabled = k > n;
        input.required = k <= n;
      });
    }
    sel.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    live();
    keys();
    picker();
  });
})();
