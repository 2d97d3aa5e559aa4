// Kehu CRM: the little glue the server-rendered pages need (toasts, error messages, data- behaviours).
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

  // What the templates ask for with data- attributes: the content security policy allows no inline
  // handlers (onchange=, onclick=, hx-on), so these listeners sit on the document and also serve
  // elements htmx swaps in later.
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (!el.matches) return;
    if (el.matches("[data-autosubmit]") && el.form) {  // a filter that applies when it changes
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
    if (el.matches("[data-check-all]")) {  // one box ticks or clears the boxes it names in its form
      (el.closest("form") || document).querySelectorAll(el.dataset.checkAll).forEach(function (box) {
        box.checked = el.checked;
      });
    }
  });
  document.addEventListener("click", function (evt) {
    var el = evt.target.closest && evt.target.closest("[data-close-dialog], [data-clear-closest], [data-print]");
    if (!el) return;
    if (el.hasAttribute("data-close-dialog")) {
      var dialog = el.closest("dialog");
      if (dialog) dialog.close();
    } else if (el.hasAttribute("data-clear-closest")) {  // Cancel on a form htmx put into a slot
      var slot = el.closest(el.dataset.clearClosest);
      if (slot) slot.replaceChildren();
    } else if (el.hasAttribute("data-print")) {
      window.print();
    }
  });
  // data-reload-on="eventName ...": the page is drawn again as a whole when one of those events comes
  // (a verb answers with events, never with a shape chosen by where it was called from: the customer's
  // page reloads on ownerChanged, since a new owner changes what every part of it may show).
  var reloadEvents = {};
  function watchReloads() {
    document.querySelectorAll("[data-reload-on]").forEach(function (el) {
      el.dataset.reloadOn.split(/\s+/).forEach(function (name) {
        if (!name || reloadEvents[name]) return;
        reloadEvents[name] = true;
        document.addEventListener(name, function () {
          if (document.querySelector("[data-reload-on~='" + name + "']")) window.location.reload();
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", watchReloads);
  document.addEventListener("htmx:afterSettle", watchReloads);

  // The narrow-screen menu (base.html): a disclosure button that shows the side navigation it controls.
  // It opens on the first link; Escape or a click elsewhere closes it (Escape gives the button the focus).
  function setMenu(button, open) {
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) nav.classList.toggle("open", open);
    if (open && nav && nav.querySelector("a")) nav.querySelector("a").focus();
  }
  document.addEventListener("click", function (evt) {
    var button = document.querySelector("[data-menu-toggle]");
    if (!button) return;
    if (button.contains(evt.target)) {
      setMenu(button, button.getAttribute("aria-expanded") !== "true");
    } else if (button.getAttribute("aria-expanded") === "true"
               && !document.getElementById(button.getAttribute("aria-controls")).contains(evt.target)) {
      setMenu(button, false);
    }
  });
  document.addEventListener("keydown", function (evt) {
    var button = document.querySelector("[data-menu-toggle][aria-expanded=true]");
    if (evt.key !== "Escape" || !button) return;
    setMenu(button, false);
    button.focus();
  });
  // Tabs loaded by htmx (the 360 page): the tab whose content arrived becomes the selected one.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var tab = evt.detail.elt, list = tab && tab.closest && tab.closest("[role=tablist]");
    if (!list || tab.getAttribute("role") !== "tab" || !evt.detail.successful) return;
    list.querySelectorAll("[role=tab]").forEach(function (a) {
      a.classList.toggle("active", a === tab);
      a.setAttribute("aria-selected", a === tab ? "true" : "false");
    });
  });
  // The type-ahead person picker (templates/_pickers.html person_picker, views/pickers.py): typing asks the
  // server for matches; ↓/↑ walk them, Enter (or a click) picks one into the hidden input, which announces a
  // change (a filter form applies it); Escape closes the list. Typing over a choice empties the hidden input,
  // so a half-typed name never sends the person picked before.
  function pickerOf(el) { return el && el.closest ? el.closest("[data-person-picker]") : null; }
  function pickerParts(box) {
    return {id: box.querySelector("[data-person-id]"), q: box.querySelector("[data-person-q]"),
            list: box.querySelector(".person-results"),
            options: Array.prototype.slice.call(box.querySelectorAll(".person-pick"))};
  }
  function closePicker(parts) {
    parts.list.replaceChildren();
    parts.q.setAttribute("aria-expanded", "false");
  }
  function setPerson(box, value, text) {
    var parts = pickerParts(box), changed = parts.id.value !== value;
    parts.id.value = value;
    parts.q.value = text;
    parts.q.dataset.picked = text;
    closePicker(parts);
    if (changed) parts.id.dispatchEvent(new Event("change", {bubbles: true}));
  }
  function openPicker(el) {
    if (window.htmx && !pickerOf(el).querySelector(".person-results").children.length) htmx.trigger(el, "personPickerOpen");
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest(".person-pick");
    if (button) {
      var box = pickerOf(button);
      setPerson(box, button.dataset.value, button.dataset.text);
      pickerParts(box).q.focus();
      return;
    }
    document.querySelectorAll("[data-person-picker]").forEach(function (box) {  // a click elsewhere closes it
      if (!box.contains(evt.target)) closePicker(pickerParts(box));
    });
  });
  document.addEventListener("change", function (evt) {  // the text box's own change is not a choice
    if (evt.target.matches && evt.target.matches("[data-person-q]")) evt.stopPropagation();
  }, true);
  document.addEventListener("input", function (evt) {
    var el = evt.target;
    if (!el.matches || !el.matches("[data-person-q]")) return;
    var box = pickerOf(el), parts = pickerParts(box);
    if (el.value !== el.dataset.picked && parts.id.value) {
      parts.id.value = "";
      el.dataset.picked = "";
      if (!el.value.trim() && box.hasAttribute("data-person-clearable")) {  // a filter emptied: everyone
        parts.id.dispatchEvent(new Event("change", {bubbles: true}));
      }
    }
  });
  document.addEventListener("keydown", function (evt) {
    var el = evt.target, box = pickerOf(el);
    if (!box) return;
    var parts = pickerParts(box), i = parts.options.indexOf(el);
    if (evt.key === "ArrowDown") {
      evt.preventDefault();
      if (parts.options.length) parts.options[Math.min(i + 1, parts.options.length - 1)].focus();
      else openPicker(parts.q);
    } else if (evt.key === "ArrowUp" && i >= 0) {
      evt.preventDefault();
      (i > 0 ? parts.options[i - 1] : parts.q).focus();
    } else if (evt.key === "Enter" && el === parts.q) {
      evt.preventDefault();  // Enter in the box picks the first match, never submits the form half done
      if (parts.options.length) { setPerson(box, parts.options[0].dataset.value, parts.options[0].dataset.text); }
    } else if (evt.key === "Escape" && parts.list.children.length) {
      evt.preventDefault();
      closePicker(parts);
      parts.q.focus();
    }
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    var list = evt.target;
    if (!list.classList || !list.classList.contains("person-results")) return;
    var q = pickerParts(pickerOf(list)).q;
    q.setAttribute("aria-expanded", list.querySelector(".person-pick") ? "true" : "false");
  });
})();
