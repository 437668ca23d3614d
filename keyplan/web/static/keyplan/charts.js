// Draws every chart on the page: <div data-chart="ID"> with its figure in <script type="application/json" id="ID">.
// Plotly (4 MB) is loaded only on pages that have a chart, also when the chart arrives later through HTMX.
const plotlySource = document.currentScript.dataset.plotly;
let plotlyLoading = null;

function loadPlotly() {
  if (typeof Plotly !== "undefined") return Promise.resolve();
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = plotlySource;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

// Plotly's toolbar words and month names in the reader's language (keyplan/web/chart_locale.py).
function chartConfig() {
  const config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const source = document.getElementById("plotly-locale");
  if (source) {
    const locale = JSON.parse(source.textContent);
    config.locales = { [locale.name]: { dictionary: locale.dictionary, format: locale.format } };
    config.locale = locale.name;
  }
  return config;
}

// On a right-to-left page each text the chart writes is its own right-to-left run (Unicode isolates): the SVG lays
// its text out left to right, which turned "۲۰٪ of the accounts: ۷۱٫۳٪" inside out.
const rightToLeft = document.documentElement.dir === "rtl";
const isolate = (text) => (typeof text === "string" && text
  ? text.split("<br>").map((line) => "\u2067" + line + "\u2069").join("<br>") : text);

function isolateTexts(figure) {
  const layout = figure.layout || {};
  (layout.annotations || []).forEach((note) => { note.text = isolate(note.text); if (note.align === "left") note.align = "right"; });
  Object.keys(layout).filter((key) => /^[xy]axis\d*$/.test(key)).forEach((key) => {
    const title = layout[key].title;
    if (title && title.text) title.text = isolate(title.text);
  });
  if (layout.title && layout.title.text) layout.title.text = isolate(layout.title.text);
  // A legend in a row reads from the right, as the page does: its first entry at the right edge.
  const legend = layout.legend;
  if (legend && legend.orientation === "h") {
    const order = legend.traceorder || "normal";
    legend.traceorder = order === "normal" ? "reversed" : order.includes("reversed") ? order : order + "+reversed";
    legend.x = 1 - (legend.x || 0);
    legend.xanchor = legend.xanchor === "left" || !legend.xanchor ? "right" : legend.xanchor === "right" ? "left" : legend.xanchor;
  }
  (figure.data || []).forEach((trace) => {
    if (trace.hovertemplate) trace.hovertemplate = isolate(trace.hovertemplate);
    if (typeof trace.name === "string") trace.name = isolate(trace.name);
  });
}

// Plotly writes its ticks and hover numbers in Latin digits (it knows no numbering systems): on a Persian page every
// digit the chart shows, now or later (hovers), becomes a Persian one.
const PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹";
const persianDigits = (document.documentElement.lang || "").startsWith("fa");

function writePersianDigits(el) {
  const convert = () => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (/[0-9]/.test(node.data)) node.data = node.data.replace(/[0-9]/g, (d) => PERSIAN_DIGITS[d]);
    }
  };
  convert();
  if (!el.dataset.digitsWatched) {
    el.dataset.digitsWatched = "1";
    new MutationObserver(convert).observe(el, { subtree: true, childList: true, characterData: true });
  }
}

function drawCharts(root) {
  const charts = root.querySelectorAll("[data-chart]");
  if (!charts.length) return;
  loadPlotly().then(() => {
    const config = chartConfig();
    charts.forEach((el) => {
      const source = document.getElementById(el.dataset.chart);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      if (rightToLeft) {
        isolateTexts(figure);
        el.setAttribute("dir", "ltr");  // the axes run left to right; the texts carry their own direction
      }
      Plotly.react(el, figure.data, figure.layout, config).then(() => {
        if (persianDigits) writePersianDigits(el);
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
document.addEventListener("htmx:afterSettle", (event) => drawCharts(event.target));
