// Service: keyboard flow of the quick ticket form (Enter or ↓ in the customer box picks a match,
// picking moves on to the description) and the satisfaction chart (Chart.js from npm).
(function () {
  "use strict";
  function picks() { return Array.prototype.slice.call(document.querySelectorAll("#customer-results .lookup-pick")); }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.id === "ticket-customer-q") {
      var list = picks();
      if (event.key === "Enter") {
        event.preventDefault();  // Enter picks the first match, never submits half a ticket
        if (fresh(target) && list.length) pick(list[0]);
        else { pendingPick = true; if (window.htmx) htmx.trigger(target, "lookupNow"); }  // pick when the answer arrives
      } else if (event.key === "ArrowDown" && list.length) {
        event.preventDefault();
        list[0].focus();
      }
    } else if (target.classList && target.classList.contains("lookup-pick")) {
      var all = picks(), i = all.indexOf(target);
      if (event.key === "ArrowDown" && i < all.length - 1) { event.preventDefault(); all[i + 1].focus(); }
      if (event.key === "ArrowUp") { event.preventDefault(); (i > 0 ? all[i - 1] : document.getElementById("ticket-customer-q")).focus(); }
    }
  });

  var pendingPick = false;
  function pick(button) {
    // Straight through htmx.ajax: the match may have been swapped in a moment ago, before htmx bound it.
    if (window.htmx) htmx.ajax("GET", button.getAttribute("hx-get"), {target: "#picked-customer", swap: "innerHTML"});
    else button.click();
  }
  function fresh(box) {
    // The matches on screen answer what is in the box now (not a request still on its way).
    var ul = document.querySelector("#customer-results .lookup-list");
    return ul && ul.dataset.q === box.value.trim().replace(/\s+/g, " ");
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "customer-results" && pendingPick) {
      var box = document.getElementById("ticket-customer-q"), list = picks();
      if (box && fresh(box)) { pendingPick = false; if (list.length) pick(list[0]); }
    }
    if (event.target.id === "picked-customer") {
      var results = document.getElementById("customer-results"), box = document.getElementById("ticket-customer-q"),
          name = document.getElementById("picked-name"), error = document.getElementById("err-customer_id");
      if (results) results.innerHTML = "";
      if (box && name) box.value = name.textContent;
      if (error) error.textContent = "";
      var next = document.getElementById("ticket-description");
      if (next) next.focus();
    }
  });

  function focusQuickForm() {
    // The hotline flow starts typing at once: the customer box takes the focus on the workbench.
    var box = document.getElementById("ticket-customer-q");
    // The quick form outranks another autofocus field on the page (the workbench's customer finder)
    // as long as nothing has been typed there.
    var active = document.activeElement;
    var idle = !active || active === document.body || (active.hasAttribute("autofocus") && !active.value);
    if (box && box.hasAttribute("autofocus") && idle) box.focus();
  }

  function drawSatisfaction() {
    var canvas = document.getElementById("satisfaction-chart");
    if (!canvas || typeof Chart === "undefined") return;
    new Chart(canvas, {
      type: "line",
      data: {labels: JSON.parse(canvas.dataset.labels), datasets: [{
        label: JSON.parse(canvas.dataset.name), data: JSON.parse(canvas.dataset.values),
        borderColor: "#1f6feb", backgroundColor: "#1f6feb", spanGaps: true, tension: 0.2, pointRadius: 4}]},
      options: {animation: false, responsive: true, maintainAspectRatio: false,
                scales: {y: {min: 0, max: 5, ticks: {stepSize: 1}}}}
    });
  }
  function ready() { focusQuickForm(); drawSatisfaction(); }
  // Deferred scripts run while the document is "interactive", before the chart library placed after
  // them: draw on DOMContentLoaded (or on load, or now if the page is complete already), once.
  var done = false;
  function once() { if (!done) { done = true; ready(); } }
  document.addEventListener("DOMContentLoaded", once);
  window.addEventListener("load", once);
  if (document.readyState === "complete") once();
})();
