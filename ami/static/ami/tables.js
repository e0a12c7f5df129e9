// A table wider than its container scrolls inside it (ami.css, DSFR « fr-table »): the
// scrolling box is then made reachable with the keyboard (tabindex), so that its hidden columns
// can be scrolled to without a mouse (RGAA, axe-core « scrollable-region-focusable »). Checked
// on load, on resize and after each htmx swap.
(function () {
  "use strict";
  var SELECTOR = ".fr-table, .fr-table > table, .fr-table__container";

  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.amiScrollable = "1";
      } else if (!scrolls && box.dataset.amiScrollable) {
        box.removeAttribute("tabindex");
        delete box.dataset.amiScrollable;
      }
    });
  }

  mark();
  window.addEventListener("resize", mark);
  document.addEventListener("htmx:afterSettle", mark);
})();
