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

  // While a click or a form is on its way: the page says it is busy and the buttons that sent it
  // wait, so a second click cannot send it twice. Background requests (previews, polls,
  // re-fetches) change nothing on screen. The end is heard on the request itself ("loadend":
  // after a load, an error, an abort or a timeout), not from htmx:afterRequest, which htmx skips
  // when handling the answer throws (htmx:onLoadError): the bar stayed on and the buttons dead.
  var inFlight = 0;
  function sentByTheUser(element) {
    return element.matches("form, button, a");
  }
  function buttonsOf(element) {
    return element.matches("button") ? [element] : Array.from(element.querySelectorAll("button"));
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail.elt;
    if (!sentByTheUser(element)) return;
    var buttons = buttonsOf(element);
    inFlight += 1;
    document.documentElement.classList.add("is-busy");
    buttons.forEach(function (button) { button.disabled = true; });
    event.detail.xhr.addEventListener("loadend", function () {
      inFlight = Math.max(0, inFlight - 1);
      if (!inFlight) document.documentElement.classList.remove("is-busy");
      buttons.forEach(function (button) { button.disabled = false; });
    });
  });

  // What a change did, said for a few seconds at the foot of the screen: the server names it in
  // the HX-Trigger header ({"toast": "Saved “Rent”."}).
  var TOAST_SECONDS = 5;
  document.addEventListener("toast", function (event) {
    var toasts = document.getElementById("toasts");
    var message = event.detail && event.detail.value;
    if (!toasts || !message) return;
    var toast = document.createElement("p");
    toast.className = "toast";
    toast.textContent = message;
    toasts.append(toast);
    while (toasts.children.length > 3) toasts.firstElementChild.remove();
    setTimeout(function () { toast.remove(); }, TOAST_SECONDS * 1000);
  });

  // The account menu closes as other menus do: a click elsewhere, or Escape (focus back on it).
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.activeElement && document.activeElement.closest("details.account-menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });

  // A request that failed says so where messages appear, instead of failing silently.
  function sayItFailed(message) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var line = document.createElement("p");
    line.className = "flash flash-error";
    line.setAttribute("role", "alert");
    line.textContent = message;
    flash.replaceChildren(line);
  }
  document.addEventListener("htmx:sendError", function () {
    sayItFailed("Tasklane could not be reached, so nothing was saved. Check your connection and try again.");
  });
  document.addEventListener("htmx:responseError", function () {
    sayItFailed("Something went wrong on our side, so nothing was saved. Please try again.");
  });
})();
