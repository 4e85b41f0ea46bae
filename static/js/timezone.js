// Time zones, progressively enhanced. Without this file the profile's list still works
// (grouped by region, the time now beside each place) and a new member starts in UTC.
// With it: sign-up hands the browser's zone to the new account; the profile proposes the
// browser's zone while the member has not chosen one, and a search box narrows the list.
(function () {
  "use strict";
  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    zone = "";
  }

  var signup = document.querySelector('form[action$="/accounts/signup/"]');
  if (signup && zone && !signup.querySelector('input[name="timezone"]')) {
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "timezone";
    hidden.value = zone;
    signup.appendChild(hidden);
  }

  var select = document.querySelector("select[data-timezone-picker]");
  if (!select) return;
  var options = Array.prototype.slice.call(select.options);
  var offered = options.some(function (o) { return o.value === zone; });

  if (select.hasAttribute("data-browser-default") && zone && zone !== "UTC" && offered) {
    select.value = zone;
    var note = document.createElement("p");
    note.className = "helptext timezone-note";
    note.id = "timezone-note";
    note.textContent = "Set to your browser's time zone (" + zone.replace(/_/g, " ") +
      "). Save the profile to keep it.";
    select.parentNode.insertBefore(note, select.nextSibling);
  }

  var search = document.createElement("input");
  search.type = "search";
  search.id = "timezone-search";
  search.className = "timezone-search";
  search.placeholder = "Search a city or region";
  search.setAttribute("aria-label", "Search the time zones");
  search.setAttribute("aria-controls", select.id);
  select.parentNode.insertBefore(search, select);

  function normal(text) {
    return text.toLowerCase().replace(/_/g, " ");
  }

  search.addEventListener("input", function () {
    var query = normal(search.value.trim());
    var first = null;
    options.forEach(function (option) {
      var match = !query || normal(option.value).indexOf(query) !== -1 ||
        normal(option.text).indexOf(query) !== -1;
      option.hidden = !match;
      if (match && !first) first = option;
    });
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
    });
    if (first && select.selectedOptions.length && select.selectedOptions[0].hidden) {
      select.value = first.value;
    }
  });
})();
