// Pipeline board: drag a card to another column (HTML5 drag and drop) and the move is posted with
// htmx, which swaps in the board with its new totals; stages that need more (lost: a reason; won
// without an amount) open the move dialog instead. The move dialog opens when htmx fills it.
(function () {
  "use strict";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function filterValues() {
    var form = document.getElementById("board-filters"), out = {};
    if (!form) return out;
    new FormData(form).forEach(function (v, k) { if (v) out[k] = v; });
    return out;
  }

  var dragged = null;

  document.addEventListener("dragstart", function (evt) {
    var card = evt.target.closest && evt.target.closest(".opp-card[draggable='true']");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    evt.dataTransfer.effectAllowed = "move";
    evt.dataTransfer.setData("text/plain", card.dataset.id);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".opp-col.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (evt) {
    var col = evt.target.closest && evt.target.closest(".opp-col");
    if (!col || !dragged || col.dataset.stage === dragged.dataset.stage) return;
    evt.preventDefault();
    evt.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".opp-col.drop-target").forEach(function (c) { if (c !== col) c.classList.remove("drop-target"); });
    col.classList.add("drop-target");
  });

  document.addEventListener("drop", function (evt) {
    var col = evt.target.closest && evt.target.closest(".opp-col");
    if (!col || !dragged || typeof htmx === "undefined") return;
    evt.preventDefault();
    var stage = col.dataset.stage, url = dragged.dataset.move, values = filterValues();
    values.stage = stage;
    values.from = "board";
    col.classList.remove("drop-target");
    if (stage === "lost") {  // a lost opportunity needs its reason: ask in the dialog
      htmx.ajax("GET", url + "?" + new URLSearchParams(values).toString(), {target: "#move-dialog-body", swap: "innerHTML"});
      return;
    }
    htmx.ajax("POST", url, {target: "#board", swap: "outerHTML", values: values, headers: {"X-CSRFToken": csrfToken()}});
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var dialog = document.getElementById("move-dialog");
    if (!dialog) return;
    if (evt.detail.target && evt.detail.target.id === "move-dialog-body" && !dialog.open) dialog.showModal();
  });

  document.addEventListener("opportunityMoved", function () {
    var dialog = document.getElementById("move-dialog");
    if (dialog && dialog.open) dialog.close();
  });

  // Forecast chart (Chart.js from npm), drawn from the canvas's data attributes.
  function drawForecast() {
    var canvas = document.getElementById("forecast-chart");
    if (!canvas || typeof Chart === "undefined") return;
    var names = JSON.parse(canvas.dataset.names);
    new Chart(canvas, {
      type: "bar",
      data: {labels: JSON.parse(canvas.dataset.labels), datasets: [
        {label: names.month, data: JSON.parse(canvas.dataset.month), backgroundColor: "#1f6feb"},
        {label: names.quarter, data: JSON.parse(canvas.dataset.quarter), backgroundColor: "#1a7f37"}]},
      options: {animation: false, responsive: true, scales: {y: {beginAtZero: true}}}
    });
  }
  window.addEventListener("load", drawForecast);
})();
