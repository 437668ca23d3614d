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
document.addEventListener("DOMContentLoaded", () => drawSelectionCharts(document));
document.addEventListener("htmx:afterSettle", (event) => drawSelectionCharts(event.target));
