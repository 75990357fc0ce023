// AI Cyber Clearinghouse: the one script (progressive enhancement; every page works without it).
// - <time data-countdown="ISO-8601">: counts the remaining time down every second.
// - [data-refresh="SECONDS"] on <main>'s first child: reloads the page while a run is in progress.
"use strict";
(function () {
  function remaining(ms) {
    if (ms <= 0) return "ended";
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
      m = Math.floor((s % 3600) / 60), r = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d ? d + "d " : "") + pad(h) + "h " + pad(m) + "m " + pad(r) + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-countdown"));
      if (!isNaN(until)) el.textContent = remaining(until - now);
    });
  }
  function start() {
    if (document.querySelector("time[data-countdown]")) { tick(); setInterval(tick, 1000); }
    var refresh = document.querySelector("[data-refresh]");
    if (refresh) {
      var seconds = parseInt(refresh.getAttribute("data-refresh"), 10);
      if (seconds > 0) setTimeout(function () { window.location.reload(); }, seconds * 1000);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
