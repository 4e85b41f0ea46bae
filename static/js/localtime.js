// Progressive enhancement of event times. The server writes times in the
// member's profile zone; for visitors without one it writes UTC and marks the
// <time> elements with data-localtime. This file rewrites those in the
// browser's own time zone. Without it, the UTC times stay, which are correct.
(function () {
  "use strict";
  var times = document.querySelectorAll("time[data-localtime]");
  if (!times.length || !window.Intl || !Intl.DateTimeFormat) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || zone === "UTC" || zone === "Etc/UTC") return;

  function formatter(options) {
    var all = { timeZone: zone, hourCycle: "h23" };
    for (var key in options) all[key] = options[key];
    return new Intl.DateTimeFormat(undefined, all);
  }
  var longDate = formatter({ weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
  var shortDate = formatter({ weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  var timeOnly = formatter({ hour: "2-digit", minute: "2-digit" });
  var dayKey = formatter({ year: "numeric", month: "2-digit", day: "2-digit" });
  var zoneName = formatter({ timeZoneName: "short" });

  function zoneLabel(date) {
    var parts = zoneName.formatToParts(date);
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === "timeZoneName") return parts[i].value;
    }
    return zone;
  }

  times.forEach(function (el) {
    var start = new Date(el.getAttribute("datetime"));
    if (isNaN(start.getTime())) return;
    var kind = el.getAttribute("data-localtime");
    var dated = el.hasAttribute("data-compact") ? shortDate : longDate;
    var text = dated.format(start);
    if (kind === "range" && el.getAttribute("data-end")) {
      var end = new Date(el.getAttribute("data-end"));
      if (!isNaN(end.getTime())) {
        var sameDay = dayKey.format(start) === dayKey.format(end);
        text += "–" + (sameDay ? timeOnly.format(end) : dated.format(end));
      }
    }
    var utc = el.textContent;
    el.textContent = text + " " + zoneLabel(start);
    el.setAttribute("title", zone);
    // The server's UTC text stays beside it, as it does for members with a zone of their own.
    if (!el.nextElementSibling || !el.nextElementSibling.classList.contains("utc-time")) {
      var fallback = document.createElement("span");
      fallback.className = "utc-time";
      fallback.textContent = "(" + utc.trim() + ")";
      el.parentNode.insertBefore(document.createTextNode(" "), el.nextSibling);
      el.parentNode.insertBefore(fallback, el.nextSibling.nextSibling);
    }
  });

  var note = document.getElementById("localtime-note");
  if (note) {
    note.textContent = "Times are shown in your browser's time zone (" + zone + "). " +
      "Members can choose a zone in their profile.";
    note.hidden = false;
  }
})();
