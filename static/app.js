// Kehu CRM: the little glue the server-rendered pages need (toasts and error messages).
(function () {
  "use strict";
  function showToast(message) {
    var box = document.getElementById("toast");
    if (!box || !message) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 6000);
  }
  document.addEventListener("showToast", function (evt) {
    showToast(evt.detail && evt.detail.message);
  });
  // htmx 2 does not swap error responses: show their text (the server sends a readable one).
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.getResponseHeader("HX-Trigger")) return; // already shown via showToast
    showToast(type.indexOf("text/plain") === 0 ? xhr.responseText : (document.documentElement.lang === "en"
      ? "Something went wrong. Nothing was saved; please try again." : "出错了，未保存任何内容，请重试。"));
  });
  // After a form comes back with errors, put the cursor in the first field that needs fixing.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var scope = evt.detail.target;
    if (!scope || !scope.querySelector) return;
    var bad = scope.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (bad && scope.querySelector("form, [role=alert]")) bad.focus();
  });
  document.addEventListener("htmx:sendError", function () {
    showToast(document.documentElement.lang === "en" ? "The server cannot be reached." : "无法连接服务器。");
  });
})();
