// Small progressive enhancements; every page works without this file.
(function () {
  // Preselect the browser's time zone on sign-up when the server could not know it.
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector("select[data-browser-timezone]");
    if (!select || select.dataset.userChosen) return;
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && select.querySelector('option[value="' + tz + '"]')) select.value = tz;
  });

  // An empty hx-get or hx-post means "this element's own URL": the link's href or the button's
  // formaction, which the browser uses without JavaScript. Task rows name each URL only once.
  document.addEventListener("htmx:configRequest", function (event) {
    var element = event.detail.elt;
    if (element.getAttribute("hx-" + event.detail.verb) !== "") return;
    var url = element.getAttribute("formaction") || element.getAttribute("href");
    if (url) event.detail.path = url;
  });

  // Once htmx added a task from the new-task form, the form empties for the next one.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form.id !== "new-task" || !event.detail.successful || event.detail.xhr.status !== 201) return;
    form.reset();
    var title = form.querySelector("input[name=title]");
    title.value = "";  // reset() brings back the value of a line the server rewrote ("keep as text")
    form.querySelector("#new-title-preview").replaceChildren();
    title.focus();
  });
})();
