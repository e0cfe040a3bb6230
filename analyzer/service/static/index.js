// streamscope serve: the upload form (resumable with tus, with progress) and the asset list. Everything a client
// sent (file names) is shown as text, never parsed as HTML.
"use strict";

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

function uploaded(form, file, id) {
  document.getElementById("upload-status").replaceChildren("Uploaded: ",
    el("a", { href: `/assets/${encodeURIComponent(id)}`, id: "uploaded" }, file.name));
  form.reset();
  refresh();
}

// Resumable (tus 1.0): a cut connection is retried from where the server says it stopped, and
// a page reloaded mid-upload resumes the same upload when the same file is chosen again.
function uploadTus(form, file, bar, status, button) {
  const done = () => { button.disabled = false; bar.hidden = true; };
  const upload = new tus.Upload(file, {
    endpoint: "/api/v1/uploads",
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
    metadata: { filename: file.name, filetype: file.type },
    removeFingerprintOnSuccess: true,
    onProgress(sent, total) { bar.value = total ? sent / total : 0; },
    onError(e) {
      done();
      let why = e.message;
      const body = e.originalResponse && e.originalResponse.getBody();
      try { why = JSON.parse(body).error || why; } catch (_) { if (body) why = body; }
      status.textContent = `Upload refused: ${why}`;
      refresh();
    },
    onSuccess() {
      done();
      uploaded(form, file, upload.url.split("/").pop());
    },
  });
  upload.findPreviousUploads().then(previous => {
    if (previous.length) {
      status.textContent = `Resuming ${file.name}…`;
      upload.resumeFromPreviousUpload(previous[0]);
    }
    upload.start();
  });
}

function upload(ev) {
  ev.preventDefault();
  const form = ev.target;
  const file = form.querySelector("#file").files[0];
  if (!file) return;
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const button = form.querySelector("button");
  button.disabled = true;
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${file.name}…`;
  if (window.tus && tus.isSupported) {
    uploadTus(form, file, bar, status, button);
    return;
  }
  // Without tus: one multipart request.
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
      uploaded(form, file, body.id);
    } else {
      status.textContent = `Upload refused (HTTP ${xhr.status}): ${body.error || xhr.statusText}`;
      refresh();
    }
  };
  xhr.onerror = () => {
    button.disabled = false;
    bar.hidden = true;
    status.textContent = "Upload failed: the connection to the server was lost.";
  };
  const data = new FormData();
  data.append("file", file);
  xhr.send(data);
}

document.getElementById("upload").addEventListener("submit", upload);
refresh();
