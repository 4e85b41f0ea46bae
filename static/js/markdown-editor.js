// The Markdown editor takes text only. markdownx uploads any file dropped or pasted into
// its editor; the portal keeps no uploads, so such events stop here, in the capture phase,
// before they reach markdownx's listeners on the editor. Text drops and pastes go on as usual.
(function () {
  "use strict";

  function carriesFiles(event) {
    var data = event.dataTransfer || event.clipboardData;
    if (!data) return false;
    if (data.files && data.files.length) return true;
    return Array.prototype.indexOf.call(data.types || [], "Files") !== -1;
  }

  function refuseFiles(event) {
    var target = event.target;
    if (!target || !target.closest || !target.closest(".markdownx")) return;
    if (!carriesFiles(event)) return;
    event.stopPropagation();
    if (event.type === "paste") return; // the browser pastes the text part, if there is one
    // Nor may the browser open the file in place of the form.
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "none";
  }

  ["dragenter", "dragover", "drop", "paste"].forEach(function (type) {
    window.addEventListener(type, refuseFiles, true);
  });
})();
