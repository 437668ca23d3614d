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

function drawCharts(root) {
  const charts = root.querySelectorAll("[data-chart]");
  if (!charts.length) return;
  loadPlotly().then(() => {
    charts.forEach((el) => {
      const source = document.getElementById(el.dataset.chart);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      Plotly.react(el, figure.data, figure.layout, { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
document.addEventListener("htmx:afterSettle", (event) => drawCharts(event.target));
