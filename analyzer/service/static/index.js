// streamscope serve: the upload form (with progress) and the asset list. Everything a client
// sent (file names) is shown as text, never parsed as HTML.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function duration(s) {
  if (!Number.isFinite(s)) return "";
  const m = Math.floor(s / 60);
  return m ? `${m} min ${(s - 60 * m).toFixed(1)} s` : `${s.toFixed(2)} s`;
}

function bytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function row(a) {
  const page = `/assets/${encodeURIComponent(a.id)}`;
  const thumb = a.poster ? el("img", { class: "thumb", src: a.poster, alt: "" }) : "";
  const status = a.status === "processing"
    ? `processing ${Math.round((a.progress || 0) * 100)} %`
    : a.status;
  const renditions = (a.renditions || []).map(r => r.name).join(", ");
  return el("tr", { "data-id": a.id, "data-status": a.status },
    el("td", {}, thumb),
    el("td", {}, el("a", { href: page }, a.original_name || a.id)),
    el("td", { class: a.status }, status),
    el("td", { class: "num" }, duration(a.probe && a.probe.duration_s)),
    el("td", { class: "num" }, bytes(a.size_bytes)),
    el("td", {}, renditions),
    el("td", {}, a.created_at));
}

let timer = null;
async function refresh() {
  clearTimeout(timer);
  try {
    const r = await fetch("/api/v1/assets");
    if (!r.ok) throw new Error(`GET /api/v1/assets: HTTP ${r.status}`);
    const assets = await r.json();
    const body = document.querySelector("#assets tbody");
    body.replaceChildren(...assets.map(row));
    document.getElementById("empty").hidden = assets.length > 0;
    const busy = assets.some(a => a.status === "uploaded" || a.status === "processing");
    timer = setTimeout(refresh, busy ? 1000 : 5000);
  } catch (e) {
    document.getElementById("upload-status").textContent = `Could not list the assets: ${e.message}`;
    timer = setTimeout(refresh, 5000);
  }
}

function upload(ev) {
  ev.preventDefault();
  const form = ev.target;
  const file = form.querySelector("#file").files[0];
  if (!file) return;
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const button = form.querySelector("button");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.responseType = "json";
  xhr.upload.onprogress = e => {
    if (e.lengthComputable) bar.value = e.loaded / e.total;
  };
  xhr.onload = () => {
    button.disabled = false;
    bar.hidden = true;
    const body = xhr.response || {};
    if (xhr.status === 201) {
      status.replaceChildren("Uploaded: ",
        el("a", { href: `/assets/${encodeURIComponent(body.id)}`, id: "uploaded" }, file.name));
      form.reset();
    } else {
      status.textContent = `Upload refused (HTTP ${xhr.status}): ${body.error || xhr.statusText}`;
    }
    refresh();
  };
  xhr.onerror = () => {
    button.disabled = false;
    bar.hidden = true;
    status.textContent = "Upload failed: the connection to the server was lost.";
  };
  const data = new FormData();
  data.append("file", file);
  button.disabled = true;
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${file.name}…`;
  xhr.send(data);
}

document.getElementById("upload").addEventListener("submit", upload);
refresh();
