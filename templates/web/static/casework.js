/* Progressive enhancement only: every page works the same without this file. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // Bring keyboard and screen-reader users straight to a form's problems.
    var summary = document.querySelector("[data-module='error-summary']");
    if (summary) {
      summary.focus();
    }
    // An error summary link moves focus to its field, not just the page to it.
    document.querySelectorAll(".error-summary__list a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (target) {
          event.preventDefault();
          target.scrollIntoView();
          target.focus();
        }
      });
    });
  });
})();
