// The editors' Discord preview: `<t:…>` timestamps in the editor's own time zone, in the
// style Discord gives each (t, T, d, D, f, F, R). Without this file they stay in UTC.
(function () {
  "use strict";
  var times = document.querySelectorAll(".discord-message time[data-discord-style]");
  if (!times.length || !window.Intl || !Intl.DateTimeFormat) return;
  var styles = {
    t: { hour: "2-digit", minute: "2-digit" },
    T: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    d: { day: "2-digit", month: "2-digit", year: "numeric" },
    D: { day: "numeric", month: "long", year: "numeric" },
    f: { day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit" },
    F: { weekday: "long", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit" }
  };
  var relative = window.Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

  times.forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    var style = el.getAttribute("data-discord-style");
    if (style === "R") {
      if (!relative) return;
      var seconds = (when.getTime() - Date.now()) / 1000;
      for (var i = 0; i < units.length; i++) {
        if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
          el.textContent = relative.format(Math.round(seconds / units[i][1]), units[i][0]);
          break;
        }
      }
    } else if (styles[style]) {
      el.textContent = new Intl.DateTimeFormat(undefined, styles[style]).format(when);
    }
    el.setAttribute("title", when.toString());
  });
})();
