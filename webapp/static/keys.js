// The keyboard, for signed-in pages: focus follows what htmx swapped in, and single-key shortcuts
// (listed in the help dialog, templates/_keyboard.html). Every page works without this file.
(function () {
  var script = document.currentScript;
  var ROW = "li.task-row";

  function rows() {
    return Array.from(document.querySelectorAll(ROW)).filter(function (row) {
      return row.getClientRects().length > 0;
    });
  }

  function currentRow() {
    var active = document.activeElement;
    return active && active !== document.body ? active.closest(ROW) : null;
  }

  // A row takes focus as a whole (outlined by app.css), without becoming a Tab stop of its own.
  function focusRow(row) {
    if (!row.hasAttribute("tabindex")) row.tabIndex = -1;
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  // Each row control is named by a shared word and the row's title (_action_form.html).
  function control(row, word) {
    return row ? row.querySelector('[aria-labelledby^="' + word + ' "]') : null;
  }

  // After htmx replaced a row because of something done in that row, focus goes to what came in:
  // the editor's first field (or the one to correct), the Undo of a deleted task, or else the row.
  // Once settled: only then do the row's controls answer with htmx (a key pressed earlier would
  // post the page's plain form).
  // Where focus was once htmx swapped (on the page, or on the field of the same id it restored):
  // a person who clicks into a field before the row settles keeps it.
  var focusAtSwap = null;
  document.addEventListener("htmx:afterSwap", function () { focusAtSwap = document.activeElement; });
  document.addEventListener("htmx:afterSettle", function (event) {
    var row = event.target;
    var source = event.detail.elt;
    if (!row.matches || !row.matches(ROW) || !source || !source.closest(ROW)) return;
    if (document.activeElement !== focusAtSwap) return;  // put elsewhere meanwhile: it stays there
    if (row.classList.contains("is-editing")) {
      var field = row.querySelector('[aria-invalid="true"]') ||
        row.querySelector("input:not([type=hidden]), textarea, select");
      if (field) field.focus();
    } else if (row.classList.contains("is-deleted")) {
      var undo = row.querySelector("button");
      if (undo) undo.focus();
    } else {
      focusRow(row);
    }
  });

  // Escape closes the editor of a row, bringing the row back as it was (its Cancel link); from
  // the quick-add line or the search field it goes to the list, keeping what was typed.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var editing = event.target.closest(ROW + ".is-editing");
    var cancel = editing && editing.querySelector("a[hx-get]");
    var list = document.getElementById("task-rows");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    } else if (list && (event.target.id === "new-title" || event.target.id === "q")) {
      event.preventDefault();
      list.focus();
    }
  });

  // A field another page holds: go there, and focus it once it is loaded (below).
  function focusOrOpen(id, page) {
    var field = document.getElementById(id);
    if (field) {
      field.focus();
      field.select();
    } else if (page) {
      window.location.assign(page + "#" + id);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var wanted = window.location.hash === "#new-title" || window.location.hash === "#q";
    if (wanted) document.querySelector(window.location.hash).focus();
  });

  function step(by) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + by));
    focusRow(all[next]);
  }

  function press(word) {
    var button = control(currentRow(), word);
    if (button) button.click();
  }

  var help = document.getElementById("keys-help");
  var beforeHelp = null;
  function openHelp() {
    if (!help || help.open) return;
    beforeHelp = document.activeElement;
    help.showModal();
  }
  if (help) {
    help.addEventListener("close", function () {
      if (beforeHelp && beforeHelp.isConnected) beforeHelp.focus();
      beforeHelp = null;
    });
  }

  var shortcuts = {
    q: function () { focusOrOpen("new-title", script.dataset.quickAdd); },
    "/": function () { focusOrOpen("q", script.dataset.search); },
    j: function () { step(1); },
    k: function () { step(-1); },
    x: function () { press("ld"); },
    e: function () { press("le"); },
    "#": function () { press("lx"); },
    "?": openHelp,
  };

  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", function (event) {
    var shortcut = shortcuts[event.key];
    if (!shortcut || event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    shortcut();
  });
})();
