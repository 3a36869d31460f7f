// Progressive enhancements; every page works without them. No inline script: the CSP (workflow/security.py)
// allows scripts from /static only.
(function () {
  'use strict';

  // Review queue: a "select all" box over the report checkboxes.
  var all = document.querySelector('#bulk-form .select-all');
  var boxes = document.querySelectorAll('#bulk-form input[name="report_ids"]');
  if (all && boxes.length) {
    all.hidden = false;
    all.addEventListener('change', function () { boxes.forEach(function (b) { b.checked = all.checked; }); });
  }

  // Account page: the new API token is selected on focus and copied with a button where the clipboard API exists.
  document.querySelectorAll('[data-select-on-focus]').forEach(function (field) {
    field.addEventListener('focus', function () { field.select(); });
  });
  document.querySelectorAll('.copy-token').forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var field = document.getElementById(button.dataset.target);
      navigator.clipboard.writeText(field.value).then(function () { button.textContent = button.dataset.copied; });
    });
  });

  // Notice preview: the print button (without JavaScript the toolbar says to use the browser's print).
  var print = document.getElementById('print-button');
  if (print) {
    print.hidden = false;
    print.addEventListener('click', function () { window.print(); });
  }
})();
