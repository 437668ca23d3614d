// Small enhancements on top of pages that work without JavaScript.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
});
