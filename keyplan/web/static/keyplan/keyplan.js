// Small enhancements on top of pages that work without JavaScript.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
});

// The print-ready plan: its button opens the browser's print dialog (print, or save as PDF).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});

// Number fields take Persian and Arabic-Indic digits as typed on a Persian keyboard: the browser's number field
// drops them (the field was left empty), so they are written as the digits it accepts, and the Persian decimal
// separator as a point.
const LOCAL_DIGITS = /[\u06F0-\u06F9\u0660-\u0669\u066B]/g;
document.addEventListener("beforeinput", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLInputElement) || field.type !== "number" || !event.data) return;
  const latin = event.data.replace(LOCAL_DIGITS, (d) => (d === "\u066B" ? "." : String(d.charCodeAt(0) & 0xF)));
  if (latin === event.data) return;
  event.preventDefault();
  document.execCommand("insertText", false, latin);
});
