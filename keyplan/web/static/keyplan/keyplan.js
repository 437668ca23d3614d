// Small enhancements on top of pages that work without JavaScript.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
});

// The print-ready plan: its button opens the browser's print dialog (print, or save as PDF).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
