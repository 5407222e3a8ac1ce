// Small progressive enhancements; every page works without this file.
(function () {
  // Preselect the browser's time zone on sign-up when the server could not know it.
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector("select[data-browser-timezone]");
    if (!select || select.dataset.userChosen) return;
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && select.querySelector('option[value="' + tz + '"]')) select.value = tz;
  });
})();
