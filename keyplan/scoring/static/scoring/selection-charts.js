// Draws the selection charts: <div data-selection-chart="ID"> with its figure in <script type="application/json" id="ID">.
// A click on a bubble opens the account (its URL is the first item of the point's customdata).
function drawSelectionCharts(root) {
  if (typeof Plotly === "undefined") return;
  root.querySelectorAll("[data-selection-chart]").forEach((el) => {
    const source = document.getElementById(el.dataset.selectionChart);
    if (!source) return;
    const figure = JSON.parse(source.textContent);
    Plotly.react(el, figure.data, figure.layout, { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
    if (el.dataset.clickable !== undefined && !el.dataset.bound) {
      el.dataset.bound = "1";
      el.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        if (point && point.customdata && typeof point.customdata[0] === "string") window.location.href = point.customdata[0];
      });
    }
  });
}
// The search box of the bubble chart: the first account whose name contains the text gets a ring and its name
// (the figure's last trace is kept empty for this); Enter does not leave the page.
function bindChartSearch(root) {
  root.querySelectorAll("[data-chart-search]").forEach((input) => {
    if (input.dataset.bound) return;
    input.dataset.bound = "1";
    const form = input.closest("form");
    const result = form.querySelector("output");
    form.addEventListener("submit", (event) => event.preventDefault());
    input.addEventListener("input", () => {
      const el = document.getElementById(input.dataset.chartSearch);
      if (!el || !el.data) return;
      const text = input.value.trim().toLowerCase();
      const last = el.data.length - 1;
      let found = null;
      if (text) {
        for (let t = 0; t < last && !found; t++) {
          const trace = el.data[t];
          const exact = (trace.text || []).findIndex((name) => name.toLowerCase() === text);
          const i = exact >= 0 ? exact : (trace.text || []).findIndex((name) => name.toLowerCase().includes(text));
          if (i >= 0) found = { x: trace.x[i], y: trace.y[i], name: trace.text[i] };
        }
      }
      Plotly.restyle(el, found ? { x: [[found.x]], y: [[found.y]], text: [[found.name]] } : { x: [[]], y: [[]], text: [[]] }, [last]);
      el.dataset.highlighted = found ? found.name : "";
      result.textContent = text && !found ? form.dataset.none : "";
    });
  });
}
document.addEventListener("DOMContentLoaded", () => { drawSelectionCharts(document); bindChartSearch(document); });
document.addEventListener("htmx:afterSettle", (event) => drawSelectionCharts(event.target));
