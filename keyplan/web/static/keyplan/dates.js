// Date fields as the reader writes dates: "15.01.2026" in German, "2026/1/15" in Chinese, "۱۴۰۴/۱۰/۲۵" (Solar Hijri) in
// Persian. Each <input type="date"> stays in the form, hidden, and carries the ISO date the server reads; a text field
// in the reader's order and calendar is shown instead, with a button that opens the browser's own date picker.
// Typed dates are read in the reader's order (Persian: Solar Hijri; a four-digit Gregorian year-first date such as
// 2026-01-15 is read too). Without JavaScript the plain date input remains.
(() => {
  const root = document.documentElement;
  const persian = (root.lang || "").startsWith("fa");
  const locale = persian ? "fa-IR-u-ca-persian-nu-arabext" : (root.lang || "en");
  const shown = new Intl.DateTimeFormat(locale, { year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC" });
  // The same calendar with Latin digits, to compare a typed Solar Hijri date with a candidate day.
  const solarHijri = new Intl.DateTimeFormat("en-u-ca-persian-nu-latn", { year: "numeric", month: "numeric", day: "numeric", timeZone: "UTC" });
  const order = shown.formatToParts(new Date(Date.UTC(2026, 0, 15))).map((p) => p.type).filter((t) => ["year", "month", "day"].includes(t));
  const LATIN = (text) => text.replace(/[۰-۹]/g, (d) => "۰۱۲۳۴۵۶۷۸۹".indexOf(d)).replace(/[٠-٩]/g, (d) => "٠١٢٣٤٥٦٧٨٩".indexOf(d));

  const iso = (day) => day.toISOString().slice(0, 10);
  const display = (value) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return "";
    return shown.format(new Date(value + "T00:00:00Z")).replace(/[\u200e\u200f]/g, "");
  };

  function gregorian(year, month, day) {
    const date = new Date(Date.UTC(year, month - 1, day));
    date.setUTCFullYear(year);
    return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? date : null;
  }

  function fromSolarHijri(year, month, day) {
    if (month < 1 || month > 12 || day < 1 || day > 31) return null;
    // Nowruz falls on 20-21 March; days before the month: 31 for each of the first six, 30 after.
    const offset = (month <= 6 ? (month - 1) * 31 : 186 + (month - 7) * 30) + day - 1;
    const estimate = Date.UTC(year + 621, 2, 21) + offset * 86400000;
    for (const shift of [0, -1, 1, -2, 2]) {
      const candidate = new Date(estimate + shift * 86400000);
      const parts = Object.fromEntries(solarHijri.formatToParts(candidate).map((p) => [p.type, p.value]));
      if (+parts.year === year && +parts.month === month && +parts.day === day) return candidate;
    }
    return null;
  }

  // The ISO date of what the reader typed; "" for nothing, null for something that is not a date.
  function read(text) {
    const numbers = LATIN(text).split(/\D+/).filter(Boolean).map(Number);
    if (!numbers.length) return "";
    if (numbers.length !== 3) return null;
    const groups = LATIN(text).split(/\D+/).filter(Boolean);
    let parts;
    if (groups[0].length === 4 && (!persian || numbers[0] >= 1700)) {
      parts = { year: numbers[0], month: numbers[1], day: numbers[2] };  // 2026-01-15, whatever the language
    } else {
      parts = Object.fromEntries(order.map((type, i) => [type, numbers[i]]));
    }
    if (parts.year < 1000 || parts.year > 9999) return null;
    const day = persian && parts.year < 1700 ? fromSolarHijri(parts.year, parts.month, parts.day) : gregorian(parts.year, parts.month, parts.day);
    return day ? iso(day) : null;
  }

  function enhance(input) {
    input.dataset.localDate = "on";
    const wrapper = document.createElement("span");
    wrapper.className = "local-date";
    // The placeholder: the day the server put there (the period a page shows when none was asked for), else
    // today as an example of how to write a date.
    const shownDay = /^\d{4}-\d{2}-\d{2}$/.test(input.placeholder) ? input.placeholder : iso(new Date());
    const text = textTwin(input, input.className, display(shownDay), display(input.value));
    text.inputMode = "numeric";
    text.dataset.dateFor = input.name;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "date-picker";
    button.innerHTML = '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><rect x="1.5" y="3" width="13" height="11.5" rx="1.5" fill="none" stroke="currentColor"/><path d="M1.5 6.5h13M5 1.5v3M11 1.5v3" stroke="currentColor"/></svg>';
    button.setAttribute("aria-label", root.dataset.datePicker || "Pick a date");
    button.disabled = input.disabled;
    input.required = false;
    input.tabIndex = -1;
    input.setAttribute("aria-hidden", "true");
    input.parentNode.insertBefore(wrapper, input);
    wrapper.append(text, button, input);

    const hint = () => (root.dataset.dateHint || "%(example)s").replace("%(example)s", display(iso(new Date())));
    const update = () => {
      const value = read(text.value);
      input.value = value || "";
      text.setCustomValidity(value === null ? hint() : "");
    };
    text.addEventListener("input", update);
    text.addEventListener("change", () => { update(); if (text.validity.valid && input.value) text.value = display(input.value); input.dispatchEvent(new Event("change", { bubbles: true })); });
    input.addEventListener("change", (event) => { if (event.isTrusted) { text.value = display(input.value); text.setCustomValidity(""); } });
    button.addEventListener("click", () => { try { input.showPicker(); } catch (error) { text.focus(); } });
  }

  // Times of day the same way: "14:30" in German, "2:30 PM" in English, "۱۴:۳۰" in Persian; typed in either clock
  // (am/pm, ق.ظ/ب.ظ, 上午/下午 read too), the hidden <input type="time"> carries HH:MM.
  const clock = new Intl.DateTimeFormat(persian ? "fa-IR-u-nu-arabext" : (root.lang || "en"), { hour: "numeric", minute: "2-digit", timeZone: "UTC" });
  const showTime = (value) => (/^\d{2}:\d{2}/.test(value) ? clock.format(new Date("1970-01-01T" + value.slice(0, 5) + ":00Z")).replace(/[\u200e\u200f]/g, "") : "");
  function readTime(text) {
    const plain = LATIN(text).trim().toLowerCase();
    if (!plain) return "";
    const found = plain.match(/^(\d{1,2})(?:\D{1,2}(\d{2}))?/) || plain.match(/(\d{1,2})(?:\D{1,2}(\d{2}))?\s*$/);
    if (!found) return null;
    let hour = +found[1];
    const minute = found[2] === undefined ? 0 : +found[2];
    const afternoon = /(pm|p\.m\.|ب\.ظ|بعدازظهر|下午|晚上)/.test(plain);
    const morning = /(am|a\.m\.|ق\.ظ|صبح|上午|早上)/.test(plain);
    if ((afternoon || morning) && (hour < 1 || hour > 12)) return null;
    if (afternoon && hour < 12) hour += 12;
    if (morning && hour === 12) hour = 0;
    if (hour > 23 || minute > 59) return null;
    return String(hour).padStart(2, "0") + ":" + String(minute).padStart(2, "0");
  }

  // The text field a reader types into in place of a native date or time input: it takes over the input's id,
  // label and state; the native input keeps the ISO value the form sends.
  function textTwin(input, className, placeholder, value) {
    const text = document.createElement("input");
    text.type = "text";
    text.autocomplete = "off";
    text.className = className;
    text.placeholder = placeholder;
    text.value = value;
    text.required = input.required;
    text.disabled = input.disabled;
    if (input.id) { text.id = input.id; input.id = input.id + "-iso"; }
    for (const name of ["aria-label", "aria-describedby", "aria-invalid", "title"]) {
      if (input.hasAttribute(name)) text.setAttribute(name, input.getAttribute(name));
    }
    return text;
  }

  function enhanceTime(input) {
    input.dataset.localDate = "on";
    const text = textTwin(input, input.className + " local-time", showTime("14:30"), showTime(input.value));
    text.dataset.timeFor = input.name;
    input.required = false;
    input.tabIndex = -1;
    input.setAttribute("aria-hidden", "true");
    const wrapper = document.createElement("span");
    wrapper.className = "local-date";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.append(text, input);
    const update = () => {
      const value = readTime(text.value);
      input.value = value || "";
      text.setCustomValidity(value === null ? (input.dataset.hint || "%(example)s").replace("%(example)s", showTime("14:30")) : "");
    };
    text.addEventListener("input", update);
    text.addEventListener("change", () => { update(); if (text.validity.valid && input.value) text.value = showTime(input.value); });
  }

  const enhanceAll = (scope) => {
    scope.querySelectorAll("input[type=date]:not([data-local-date])").forEach(enhance);
    scope.querySelectorAll("input[type=time]:not([data-local-date])").forEach(enhanceTime);
  };
  document.addEventListener("DOMContentLoaded", () => enhanceAll(document));
  document.addEventListener("htmx:afterSettle", (event) => enhanceAll(event.target));
})();
