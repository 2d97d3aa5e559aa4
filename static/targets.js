// Targets (issue 16): the decomposition form adds up the reps' shares as they are typed; the server checks again.
(function () {
  function num(text) {
    var v = parseFloat(String(text || "").replace(/[,\s¥￥]/g, ""));
    return isNaN(v) ? 0 : v;
  }
  function update(form) {
    var out = form.querySelector("[data-target-sum]");
    var total = form.querySelector("[data-target-total]");
    if (!out || !total) return;
    var sum = 0;
    form.querySelectorAll("[data-target-share]").forEach(function (el) { sum += num(el.value); });
    var team = num(total.value);
    out.textContent = out.dataset.label ? out.dataset.label + " " + sum.toLocaleString() + " / " + team.toLocaleString()
                                        : sum.toLocaleString() + " / " + team.toLocaleString();
    out.classList.toggle("short", sum < team);
  }
  document.addEventListener("input", function (e) {
    var form = e.target.closest && e.target.closest("#target-form");
    if (form) update(form);
  });
})();
