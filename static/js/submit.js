// Progressive enhancement of the submission form: the duplicate check as the
// member types the link, "Fetch details" without a page reload, and a live
// count of the summary's characters. The form works the same without this file.
(function () {
  "use strict";
  var form = document.querySelector("form.submission-form");
  if (!form) return;

  // The error summary at the top of the page is where the eye goes after a failed submit.
  var summaryBox = document.getElementById("error-summary");
  if (summaryBox) summaryBox.focus();

  // "N / 4000" under the summary, counted as the server counts: in characters
  // (code points, so an emoji is one), a line break as one.
  var summaryField = form.querySelector("[name=summary]");
  var counter = document.getElementById("summary-count");
  if (summaryField && counter) {
    var max = parseInt(counter.dataset.max, 10);
    var count = function () {
      var length = Array.from(summaryField.value).length;
      counter.textContent = length + " / " + max;
      counter.classList.toggle("over", length > max);
    };
    var described = summaryField.getAttribute("aria-describedby") || "";
    summaryField.setAttribute("aria-describedby", (described + " summary-count").trim());
    summaryField.addEventListener("input", count);
    count();
    counter.hidden = false;
  }
  var urlInput = form.querySelector("[name=url]");

  // Kind from the link, as it is typed: the same table of rules the server uses
  // (newsletter/links/kinds.py, in the page as JSON). Once the member picks a kind
  // by hand, the script leaves it alone.
  var kindField = form.querySelector("select[name=kind]");
  var rulesScript = document.getElementById("kind-rules");
  var kindNote = document.getElementById("kind-guess");
  if (kindField && rulesScript && urlInput) {
    var table = JSON.parse(rulesScript.textContent);
    var rules = table.rules.map(function (rule) {
      return { host: new RegExp(rule.host), path: new RegExp(rule.path), kind: rule.kind };
    });
    var chosenByHand = kindField.value !== "auto" && form.dataset.editing === "true";
    var guess = function (value) {
      var parsed;
      try { parsed = new URL(value.trim()); } catch (e) { return null; }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
      var host = parsed.hostname.toLowerCase().replace(/^www\./, "").replace(/^m\./, "");
      var path = parsed.pathname || "/";
      for (var i = 0; i < rules.length; i++) {
        if (rules[i].host.test(host) && rules[i].path.test(path)) return rules[i].kind;
      }
      return table.default;
    };
    var applyGuess = function () {
      if (chosenByHand) return;
      var kind = guess(urlInput.value);
      if (!kind) return;
      kindField.value = kind;
      if (kindNote) {
        var label = kindField.options[kindField.selectedIndex].text;
        kindNote.textContent = "Guessed from the link: " + label + ". Change it if it is wrong.";
        kindNote.hidden = false;
      }
    };
    kindField.addEventListener("change", function () {
      chosenByHand = kindField.value !== "auto";
      if (kindNote) kindNote.hidden = true;
      if (!chosenByHand) applyGuess();
    });
    urlInput.addEventListener("input", applyGuess);
    applyGuess();
  }

  var status = document.getElementById("url-status");
  var fetchButton = document.getElementById("fetch-button");
  var fetchStatus = document.getElementById("fetch-status");
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var timer = null;
  var lastChecked = "";

  function show(message, linkUrl) {
    status.textContent = message;
    if (linkUrl) {
      var a = document.createElement("a");
      a.href = linkUrl;
      a.textContent = "See where it is →";
      status.appendChild(document.createTextNode(" "));
      status.appendChild(a);
    }
    status.hidden = !message;
  }

  // A duplicate is not a dead end: offer "+1" for the submission already there.
  var endorseForm = document.getElementById("endorse-form");
  var endorseOffer = document.getElementById("endorse-offer");
  var endorseRefusal = document.getElementById("endorse-refusal");
  function offerEndorsement(data) {
    if (!endorseForm || !endorseOffer || !endorseRefusal) return;
    if (form.dataset.editing === "true") return; // editing finds the submission itself
    var refusal = data ? data.endorse_refusal : "";
    if (data) endorseForm.action = data.endorse_url;
    endorseOffer.hidden = !data || !!refusal;
    endorseRefusal.textContent = refusal || "";
    endorseRefusal.hidden = !refusal;
  }

  function check() {
    var value = urlInput.value.trim();
    if (!value || value === lastChecked) return;
    lastChecked = value;
    fetch(form.dataset.checkUrl + "?url=" + encodeURIComponent(value), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (urlInput.value.trim() !== value) return;
        if (!data.valid) show(data.message);
        else if (data.duplicate) show(data.message, data.url);
        else show("");
        offerEndorsement(data.valid && data.duplicate ? data : null);
      })
      .catch(function () { /* the server checks again on submit */ });
  }

  urlInput.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  urlInput.addEventListener("blur", check);

  function setField(name, value) {
    var field = form.querySelector("[name=" + name + "]");
    if (!field || !value) return;
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  fetchButton.addEventListener("click", function (event) {
    event.preventDefault();
    var body = new URLSearchParams();
    body.set("url", urlInput.value.trim());
    fetchButton.disabled = true;
    fetchStatus.textContent = "Fetching…";
    fetch(form.dataset.fetchUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var failed = form.querySelector("[name=autofill_failed]");
        if (data.ok && data.title) {
          setField("title", data.title);
          var summary = form.querySelector("[name=summary]");
          if (summary && !summary.value.trim()) setField("summary", data.summary);
          fetchStatus.textContent = "Filled in from " + data.source + ".";
          if (failed) failed.value = "";
        } else {
          fetchStatus.textContent = data.message || "Nothing found; please type a title.";
          if (failed) failed.value = "on";
        }
      })
      .catch(function () { fetchStatus.textContent = "The fetch failed; please type a title."; })
      .finally(function () { fetchButton.disabled = false; });
  });
})();
