// Draws the pool-health chart from the data attributes of #pool-chart (Chart.js from npm).
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("pool-chart");
    if (!canvas || typeof Chart === "undefined") return;
    var labels = JSON.parse(canvas.dataset.labels), series = JSON.parse(canvas.dataset.series),
        names = JSON.parse(canvas.dataset.names);
    var colours = {claim: "#1f6feb", release: "#b7791f", forced_release: "#c53030", assign: "#1a7f37"};
    new Chart(canvas, {
      type: "bar",
      data: {labels: labels, datasets: Object.keys(series).map(function (k) {
        return {label: names[k], data: series[k], backgroundColor: colours[k]};
      })},
      options: {animation: false, responsive: true, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
