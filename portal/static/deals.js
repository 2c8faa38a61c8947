// "Used in deal": the filter field narrows the select of open deals as the rep types.
// Without this script the field's Find button opens a page of the matching deals instead.
(function () {
  "use strict";
  var timers = {};

  function fill(select, status, deals) {
    // An option without a value ("No deal") is a choice of its own: it stays, or is made
    // from the list's data-no-deal words.
    Array.prototype.slice.call(select.options).forEach(function (option) {
      if (option.value !== "") select.removeChild(option);
    });
    var none = select.getAttribute("data-no-deal");
    if (none && select.options.length === 0) {
      var empty = document.createElement("option");
      empty.value = "";
      empty.textContent = none;
      select.appendChild(empty);
    }
    deals.forEach(function (deal) {
      var option = document.createElement("option");
      option.value = deal.id;
      option.textContent = deal.label;
      option.setAttribute("data-account", deal.account || "");
      select.appendChild(option);
    });
    select.disabled = select.options.length === 0;
    status.textContent = deals.length === 0 ? "No open deal matches." :
      deals.length + " open deal" + (deals.length === 1 ? "" : "s") + " in the list.";
  }

  document.addEventListener("input", function (event) {
    var field = event.target.closest("[data-deal-filter]");
    if (!field) return;
    var select = document.getElementById(field.getAttribute("data-deal-filter"));
    var status = document.getElementById(field.getAttribute("aria-describedby"));
    if (!select || !status) return;
    clearTimeout(timers[field.id]);
    timers[field.id] = setTimeout(function () {
      var url = field.getAttribute("data-deals-url") + "?q=" + encodeURIComponent(field.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(); })
        .then(function (deals) { fill(select, status, deals); })
        .catch(function () { status.textContent = "Could not filter the deals: use Find."; });
    }, 200);
  });

  // Enter in the filter field picks nothing by accident: it refreshes the list at once.
  document.addEventListener("keydown", function (event) {
    var field = event.target.closest && event.target.closest("[data-deal-filter]");
    if (field && event.key === "Enter" && window.fetch) {
      event.preventDefault();
      field.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });

  // Inviting a champion: picking a deal fills in its account as their company, unless the
  // rep typed a company of their own.
  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("select[data-fills-company]");
    if (!select) return;
    var company = document.getElementById(select.getAttribute("data-fills-company"));
    var option = select.options[select.selectedIndex];
    var account = option ? option.getAttribute("data-account") || "" : "";
    if (!company || !account) return;
    if (!company.value || company.value === company.getAttribute("data-filled")) {
      company.value = account;
      company.setAttribute("data-filled", account);
    }
  });
})();
