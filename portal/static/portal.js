// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Older browsers and plain-http hosts: a hidden textarea and execCommand.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "absolute";
      area.style.left = "-9999px";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy") ? resolve() : reject(); } catch (e) { reject(e); }
      document.body.removeChild(area);
    });
  }

  function partText(node) {
    var items = node.querySelectorAll("li");
    if (items.length) {
      return Array.prototype.map.call(items, function (li) { return "• " + li.textContent.trim(); }).join("\n");
    }
    return node.textContent.trim();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var label = button.textContent;
    copyText(partText(target)).then(function () {
      button.textContent = "Copied";
      button.classList.add("done");
      document.dispatchEvent(new CustomEvent("portal:copied", { detail: button.getAttribute("data-copy-target") }));
    }, function () {
      button.textContent = "Select and copy";
    }).finally(function () {
      setTimeout(function () { button.textContent = label; button.classList.remove("done"); }, 2000);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // "/" focuses the search box, as in most tools people already use.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || document.activeElement.isContentEditable) return;
    var box = document.getElementById("search-box");
    if (box) { event.preventDefault(); box.focus(); box.select(); }
  });
})();

// Facet checkboxes apply at once.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (event.target.matches("input[data-autosubmit]")) event.target.form.submit();
  });
})();

// Suggestions as you type: an ARIA combobox over the search box.
(function () {
  "use strict";
  var box = document.getElementById("search-box");
  var list = document.getElementById("search-suggestions");
  if (!box || !list) return;
  var url = box.getAttribute("data-suggest-url");
  var timer = null, active = -1, last = "";

  function close() {
    list.hidden = true; list.innerHTML = ""; active = -1;
    box.setAttribute("aria-expanded", "false"); box.removeAttribute("aria-activedescendant");
  }
  function choose(text) { box.value = text; close(); box.form.submit(); }
  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    options.forEach(function (o, i) { o.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) box.setAttribute("aria-activedescendant", options[index].id);
  }
  function show(words) {
    list.innerHTML = "";
    words.forEach(function (word, i) {
      var li = document.createElement("li");
      li.id = "suggestion-" + i; li.setAttribute("role", "option"); li.textContent = word;
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(word); });
      list.appendChild(li);
    });
    list.hidden = words.length === 0;
    box.setAttribute("aria-expanded", words.length ? "true" : "false");
    active = -1;
  }
  box.addEventListener("input", function () {
    clearTimeout(timer);
    var text = box.value.trim();
    if (text.length < 2) { close(); return; }
    timer = setTimeout(function () {
      if (text === last) return;
      last = text;
      fetch(url + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (words) { if (box.value.trim() === text) show(words); })
        .catch(close);
    }, 120);
  });
  box.addEventListener("keydown", function (event) {
    var count = list.querySelectorAll("[role=option]").length;
    if (list.hidden || !count) return;
    if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % count); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + count) % count); }
    else if (event.key === "Enter" && active >= 0) {
      event.preventDefault(); choose(list.querySelectorAll("[role=option]")[active].textContent);
    } else if (event.key === "Escape") { close(); }
  });
  box.addEventListener("blur", function () { setTimeout(close, 150); });
})();
