// streamscope serve: the measurement runs, each with its report, and a side-by-side comparison of the ones ticked.
// Stream names and URLs came from clients: shown as text, never parsed as HTML.
"use strict";

// The worst live stream's value of `field` in the run's summary.
function worst(m, pick) {
  const live = ((m.summary && m.summary.streams) || []).filter(s => s.role !== "control");
  const values = live.map(pick).filter(v => Number.isFinite(v));
  return values.length ? Math.max(...values) : null;
}

function row(m, ticked) {
  const p95 = worst(m, s => s.latency_ms && s.latency_ms.p95);
  const dropped = worst(m, s => s.dropped);
  const box = el("input", { type: "checkbox", name: "ids", value: m.id, "aria-label": `compare ${m.id}` });
  if (!m.report) box.disabled = true;
  box.checked = ticked.has(m.id);
  return el("tr", { "data-id": m.id, "data-status": m.status },
    el("td", {}, box),
    el("td", {}, m.created_at),
    el("td", {}, m.request.live.map(l => l.name).join(", ")),
    el("td", {}, m.location || "any"),
    el("td", { class: m.status }, m.status),
    el("td", { class: m.verdict || "" }, m.verdict || ""),
    el("td", { class: "num" }, p95 === null ? "" : `${p95.toFixed(0)} ms`),
    el("td", { class: "num" }, dropped === null ? "" : dropped),
    el("td", {}, m.report ? el("a", { href: m.report }, "report") : (m.error || "")));
}

function ticked() {
  return new Set([...document.querySelectorAll("#runs input:checked")].map(b => b.value));
}

function update() {
  document.getElementById("compare-button").disabled = ticked().size < 2;
}

let timer = null;
async function refresh() {
  clearTimeout(timer);
  try {
    const r = await fetch("/api/v1/measurements");
    if (!r.ok) throw new Error(`GET /api/v1/measurements: HTTP ${r.status}`);
    const runs = await r.json();
    const keep = ticked();
    document.querySelector("#runs tbody").replaceChildren(...runs.map(m => row(m, keep)));
    document.getElementById("empty").hidden = runs.length > 0;
    update();
    const busy = runs.some(m => m.status === "queued" || m.status === "running");
    timer = setTimeout(refresh, busy ? 1000 : 5000);
  } catch (e) {
    document.getElementById("status").textContent = `Could not list the measurements: ${e.message}`;
    timer = setTimeout(refresh, 5000);
  }
}

document.getElementById("runs").addEventListener("change", update);
document.getElementById("compare").addEventListener("submit", e => {
  e.preventDefault();
  location.href = `/measurements/compare?ids=${[...ticked()].join(",")}`;
});
refresh();
