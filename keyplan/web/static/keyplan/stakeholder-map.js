// The stakeholder map: click a person to edit them beside the map (HTMX), zoom, keep the zoom across refreshes.
// Without JavaScript the people are plain links to their own page, and the map scrolls.
(() => {
  let zoom = null; // null: fit the map to its frame (not below MIN_FIT)
  const MIN_FIT = 0.6;

  const natural = (svg) => ({ w: Number(svg.getAttribute("width")), h: Number(svg.getAttribute("height")) });

  const fitScale = (frame, svg) => Math.min(1, (frame.clientWidth - 2) / natural(svg).w);

  const apply = (frame) => {
    const svg = frame.querySelector("svg.stakeholder-map");
    if (!svg) return;
    const scale = zoom ?? Math.max(MIN_FIT, fitScale(frame, svg));
    const { w, h } = natural(svg);
    svg.style.width = `${Math.round(w * scale)}px`;
    svg.style.height = `${Math.round(h * scale)}px`;
    frame.dataset.zoom = scale.toFixed(2);
  };

  const applyAll = (root) => root.querySelectorAll(".map-frame").forEach(apply);

  document.addEventListener("click", (event) => {
    const link = event.target.closest(".map-frame a.node-link");
    if (link && window.htmx) {
      const frame = link.closest(".map-frame");
      const target = document.querySelector(frame.dataset.mapEditor);
      if (!target) return;
      event.preventDefault();
      frame.querySelectorAll(".node.is-selected").forEach((node) => node.classList.remove("is-selected"));
      link.querySelector(".node")?.classList.add("is-selected");
      window.htmx.ajax("GET", link.getAttribute("href"), { target, swap: "innerHTML" });
      return;
    }
    const button = event.target.closest("[data-map-zoom]");
    if (button) {
      const frame = button.closest(".map-card")?.querySelector(".map-frame");
      const svg = frame?.querySelector("svg.stakeholder-map");
      if (!svg) return;
      const current = Number(frame.dataset.zoom) || 1;
      const action = button.dataset.mapZoom;
      zoom = action === "fit" ? fitScale(frame, svg) : Math.min(3, Math.max(0.2, current * (action === "in" ? 1.25 : 0.8)));
      apply(frame);
    }
  });

  document.addEventListener("DOMContentLoaded", () => applyAll(document));
  document.addEventListener("htmx:afterSwap", (event) => {
    applyAll(event.detail.target.parentElement || document);
    // A fresh editor starts at its top, where its name and any "saved" message are.
    const editor = event.detail.target.closest?.("#map-editor") || document.querySelector("#map-editor");
    if (editor && editor.contains(event.detail.elt)) editor.scrollTop = 0;
  });
  window.addEventListener("resize", () => { if (zoom === null) applyAll(document); });
})();
