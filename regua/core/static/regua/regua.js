// Small behaviours the templates ask for with data- attributes, so that no page needs an
// inline script, an on*= handler or a style="" attribute (the Content-Security-Policy
// allows neither; docs/security.md):
//   <select data-autosubmit>           submits its form when changed
//   <form data-confirm="Question?">    asks before submitting
//   <a data-print>                     prints the page
//   <input data-select-on-focus>       selects its text when clicked (a link to copy)
//   data-width="42" / data-left="42"   sets that percentage as the element's width / left
(function () {
  "use strict";

  function applySizes(root) {
    root.querySelectorAll("[data-width]").forEach(function (element) {
      element.style.width = element.dataset.width + "%";
    });
    root.querySelectorAll("[data-left]").forEach(function (element) {
      element.style.left = element.dataset.left + "%";
    });
  }

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) {
      if (field.form.requestSubmit) field.form.requestSubmit();
      else field.form.submit();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.dataset ? form.dataset.confirm : null;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print], [data-select-on-focus]") : null;
    if (!target) return;
    if (target.hasAttribute("data-print")) {
      event.preventDefault();
      window.print();
    } else {
      target.select();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    applySizes(document);
  });
  // htmx swaps in new content (the import's progress, the agenda's week): size it too.
  document.addEventListener("htmx:load", function (event) {
    applySizes(event.detail.elt.parentNode || event.detail.elt);
  });
})();
