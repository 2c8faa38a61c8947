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
