// Visit plan calendar keys (templates/plans/calendar.html, team.html): on an element with data-plan-keys,
// ← / → previous and next, t today, d day view, w week view, a plan a visit. Not while typing in a field.
(function () {
  "use strict";
  var KEYS = { ArrowLeft: "prev", ArrowRight: "next", t: "today", d: "dayView", w: "weekView", a: "add" };
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if (document.querySelector("dialog[open]")) return;
    var nav = document.querySelector("[data-plan-keys]");
    var name = KEYS[event.key];
    if (!nav || !name || !nav.dataset[name]) return;
    event.preventDefault();
    window.location.assign(nav.dataset[name]);
  });
})();
