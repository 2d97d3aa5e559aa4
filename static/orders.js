// Orders: choosing a product on an order line fills its unit price and cost with the product list's
// figures, in view and editable (issue 13: an empty price box applied the list price silently). A figure
// the user typed is kept; one filled from the previous product follows the new choice.
(function () {
  "use strict";
  document.addEventListener("change", function (evt) {
    var select = evt.target;
    if (!select.matches || !select.matches("#order-form select[name^='product_']")) return;
    var i = select.name.slice("product_".length), option = select.selectedOptions[0];
    [["unit_price_", "price"], ["unit_cost_", "cost"]].forEach(function (pair) {
      var input = select.form.querySelector("input[name='" + pair[0] + i + "']");
      if (!input || (input.value.trim() && input.dataset.filled !== input.value)) return;  // typed by hand
      var value = option && option.dataset[pair[1]] ? option.dataset[pair[1]] : "";
      input.value = value;
      input.dataset.filled = value;
    });
  });
})();
