// The editors' review queue: vote for, against or abstain without a page reload.
// The vote forms work the same without this file: they post, and the queue comes
// back with a message. With it, the form posts in the background, the answer carries
// the row's new cells (rendered by the server, as on a full page) and they replace
// the old ones in place.
(function () {
  "use strict";

  function announce(text, isError) {
    var live = document.getElementById("review-live");
    if (!live) return;
    live.textContent = text || "";
    live.classList.toggle("review-live-error", Boolean(isError));
  }

  function cell(name, id) {
    return document.querySelector(
      '[data-review-cell="' + name + '"][data-submission="' + id + '"]'
    );
  }

  function replaceCells(form, cells) {
    var id = form.id.replace("review-vote-", "");
    ["tally", "my_vote"].forEach(function (name) {
      var old = cell(name, id);
      if (old && cells[name]) old.outerHTML = cells[name];
    });
    var state = cell("state", id);
    if (state && cells.state) state.textContent = cells.state;
  }

  function buttonsOf(form) {
    return document.querySelectorAll('button[form="' + form.id + '"]');
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-review-async")) return;
    if (!window.fetch || !window.FormData) return;
    event.preventDefault();
    var submitter = event.submitter;
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var value = submitter ? submitter.value : "";
    buttonsOf(form).forEach(function (button) {
      button.disabled = true;
    });
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().catch(function () {
          return {
            ok: false,
            message: "The vote could not be saved (HTTP " + response.status + "). Please reload the page.",
          };
        });
      })
      .then(function (answer) {
        if (answer.cells) replaceCells(form, answer.cells);
        announce(answer.message, !answer.ok);
        // Keep the keyboard where it was: on the same button of the new row.
        var again = document.querySelector('button[form="' + form.id + '"][value="' + value + '"]');
        if (again) again.focus();
      })
      .catch(function () {
        announce("The vote could not be sent. Check your connection and try again.", true);
      })
      .finally(function () {
        buttonsOf(form).forEach(function (button) {
          button.disabled = false;
        });
      });
  });

  // A comment typed in the queue is not an edit of the list: keep the admin's
  // "unsaved changes" warning for list actions quiet.
  document.addEventListener(
    "change",
    function (event) {
      var target = event.target;
      if (target.classList && target.classList.contains("review-comment")) event.stopPropagation();
    },
    true
  );
})();
