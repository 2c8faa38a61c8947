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

  // Tells the portal which argument part was copied, for usage figures. Best effort: the
  // copy has already happened, whatever the answer.
  function reportCopy(button) {
    var section = button.closest("[data-copied-url]");
    var token = document.querySelector("input[name=csrf_token]");
    if (!section || !token || !window.fetch) return;
    fetch(section.getAttribute("data-copied-url"), {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "X-CSRFToken": token.value, "Content-Type": "application/x-www-form-urlencoded" },
      body: "part=" + encodeURIComponent(button.getAttribute("data-part") || "")
    }).catch(function () {});
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
      reportCopy(button);
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

// The item form: the note on what a buyer sees shows while the audience is external.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (!event.target.matches("input[name=audience]")) return;
    document.querySelectorAll("[data-shows-for-audience]").forEach(function (note) {
      note.hidden = note.getAttribute("data-shows-for-audience") !== event.target.value;
    });
  });
})();

// Facet checkboxes apply at once.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (event.target.matches("input[data-autosubmit]")) event.target.form.submit();
  });
})();

// Suggestions as you type: an ARIA combobox over the search box. Each suggestion is
// {text, url}: a title comes with its item's url and picking it opens the item; any
// other suggestion is searched for.
(function () {
  "use strict";
  var box = document.getElementById("search-box");
  var list = document.getElementById("search-suggestions");
  if (!box || !list) return;
  var url = box.getAttribute("data-suggest-url");
  var timer = null, active = -1, last = "", shown = [];

  function close() {
    list.hidden = true; list.innerHTML = ""; active = -1; shown = [];
    box.setAttribute("aria-expanded", "false"); box.removeAttribute("aria-activedescendant");
  }
  function choose(suggestion) {
    box.value = suggestion.text; close();
    if (suggestion.url) window.location.assign(suggestion.url);
    else box.form.submit();
  }
  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    options.forEach(function (o, i) { o.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) box.setAttribute("aria-activedescendant", options[index].id);
  }
  function show(suggestions) {
    list.innerHTML = "";
    shown = suggestions;
    suggestions.forEach(function (suggestion, i) {
      var li = document.createElement("li");
      li.id = "suggestion-" + i; li.setAttribute("role", "option");
      li.textContent = suggestion.text;
      if (suggestion.url) {
        li.setAttribute("data-url", suggestion.url);
        var hint = document.createElement("span");
        hint.className = "muted"; hint.textContent = " · open";
        li.appendChild(hint);
      }
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(suggestion); });
      list.appendChild(li);
    });
    list.hidden = suggestions.length === 0;
    box.setAttribute("aria-expanded", suggestions.length ? "true" : "false");
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
        .then(function (found) { if (box.value.trim() === text) show(found); })
        .catch(close);
    }, 120);
  });
  box.addEventListener("keydown", function (event) {
    var count = shown.length;
    if (list.hidden || !count) return;
    if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % count); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + count) % count); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(shown[active]); }
    else if (event.key === "Escape") { close(); }
  });
  box.addEventListener("blur", function () { setTimeout(close, 150); });
})();

// A table wider than a phone scrolls inside its wrapper; a keyboard can scroll it only once
// the wrapper takes focus (WCAG 2.1.1). Every wrapper, so a table added later is covered too.
(function () {
  "use strict";
  document.querySelectorAll(".table-wrap:not([tabindex])").forEach(function (wrap) {
    wrap.tabIndex = 0;
  });
})();
