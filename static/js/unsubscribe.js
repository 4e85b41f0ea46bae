// The footer's unsubscribe link is one click: in a browser, the page sends its own form as
// soon as it opens, and the reader lands on "You are unsubscribed" (with "Subscribe again").
// A link scanner that fetches the page without running scripts unsubscribes nobody, and
// without scripts the reader has the button.
(function () {
  "use strict";
  var form = document.querySelector("form[data-submit-on-open]");
  if (!form) return;
  var status = form.querySelector("[data-submitting]");
  if (status) status.hidden = false;
  form.submit();
})();
