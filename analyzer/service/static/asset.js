// streamscope serve: one asset's page — its status while the job runs, then the player (hls.js
// where MSE exists, the browser's own HLS where not), a rendition picker, metadata, downloads
// and an embed snippet. What a client sent (the file name) is shown as text only.
"use strict";

const $ = id => document.getElementById(id);
const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const abs = u => new URL(u, location.href).href;

function metadata(a) {
  const p = a.probe || {};
  const v = p.video, au = p.audio;
  const rows = [
    ["Id", a.id],
    ["File name", a.original_name],
    ["Uploaded", a.created_at],
    ["Size", `${a.size_bytes} bytes`],
    ["SHA-256", a.sha256],
    ["Container", p.container],
    ["Duration", p.duration_s != null ? `${p.duration_s.toFixed(3)} s` : ""],
    ["Bitrate", p.bitrate_kbps != null ? `${p.bitrate_kbps} kbit/s` : ""],
    ["Video", v ? `${v.codec} ${v.width}x${v.height}${v.fps ? ` ${+v.fps.toFixed(3)} fps` : ""}${v.field_order ? ` ${v.field_order}` : ""}` : "none"],
    ["Audio", au ? `${au.codec} ${au.channels} ch${au.channel_layout ? ` (${au.channel_layout})` : ""}${au.sample_rate ? ` ${au.sample_rate} Hz` : ""}` : "none"],
  ];
  if (a.stream_id != null) rows.push(["Timecode stream id", a.stream_id]);
  $("meta").tBodies[0].replaceChildren(...rows.map(([k, val]) =>
    el("tr", {}, el("th", {}, k), el("td", {}, val ?? ""))));
}

function downloads(a) {
  const items = [
    el("li", {}, el("a", { href: a.reference, download: "" }, "Timecoded reference (MP4)"),
      " — for publish --source and analyze --reference"),
    ...a.renditions.map(r => el("li", {},
      el("a", { href: r.url, download: "" }, `${r.name} (MP4)`),
      ` — ${r.width ? `${r.width}x${r.height}, ${r.video_codec}` : "sound only"}${r.audio_codec ? ` + ${r.audio_codec}` : ""}${r.bitrate_kbps ? `, ${r.bitrate_kbps} kbit/s` : ""}`)),
    el("li", {}, el("a", { href: a.hls }, "HLS master playlist")),
    el("li", {}, el("a", { href: a.dash }, "DASH manifest")),
  ];
  if (a.storyboard) {
    items.push(el("li", {}, el("a", { href: a.storyboard }, "Storyboard (WebVTT)"),
      " — tiles for a player's scrub bar"));
  }
  $("links").replaceChildren(...items);
  $("downloads").hidden = false;
  // HLS first (Safari plays it natively), an MP4 for every other browser.
  const mp4 = a.renditions[0];
  $("embed").value = mp4.width ? [
    `<video controls playsinline poster="${abs(a.poster)}" width="${mp4.width}" height="${mp4.height}">`,
    `  <source src="${abs(a.hls)}" type="application/vnd.apple.mpegurl">`,
    `  <source src="${abs(mp4.url)}" type="video/mp4">`,
    `</video>`,
  ].join("\n") : [
    `<audio controls>`,
    `  <source src="${abs(a.hls)}" type="application/vnd.apple.mpegurl">`,
    `  <source src="${abs(mp4.url)}" type="audio/mp4">`,
    `</audio>`,
  ].join("\n");
  $("embed-section").hidden = false;
  $("thumbs").replaceChildren(...a.thumbnails.map(t => el("img", { src: t, alt: "", loading: "lazy" })));
  if (a.storyboard) {
    $("thumbs").append(el("p", {}, el("img", {
      src: a.storyboard.replace(/\.vtt$/, ".jpg"), alt: "storyboard", id: "storyboard", class: "sprite",
    })));
  }
  $("thumbs-section").hidden = a.thumbnails.length === 0;
}

function fail(message) {
  $("player-error").textContent = message;
  $("video").dataset.state = "error";
}

function play(a) {
  const video = $("video");
  const picker = $("rendition");
  $("player").hidden = false;
  video.poster = a.poster;
  video.addEventListener("playing", () => { video.dataset.state = "playing"; });
  video.addEventListener("error", () => {
    const e = video.error;
    fail(`The browser could not play this stream${e ? ` (media error ${e.code}${e.message ? `: ${e.message}` : ""})` : ""}.`);
  });
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls();
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      picker.replaceChildren(el("option", { value: "-1" }, "Auto"),
        ...data.levels.map((l, i) => el("option", { value: String(i) },
          `${l.height ? `${l.height}p` : "sound"} — ${Math.round(l.bitrate / 1000)} kbit/s`)));
      video.play().catch(e => fail(`Playback did not start: ${e.message}`));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const l = hls.levels[data.level];
      $("playing-level").textContent = !l ? "" : l.height ? `playing ${l.width}x${l.height}`
        : `playing ${Math.round(l.bitrate / 1000)} kbit/s`;
      video.dataset.level = String(data.level);
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) fail(`The player stopped: ${data.type} ${data.details}.`);
    });
    picker.addEventListener("change", () => { hls.currentLevel = Number(picker.value); });
    hls.loadSource(a.hls);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    picker.disabled = true;
    video.src = a.hls;
    video.play().catch(e => fail(`Playback did not start: ${e.message}`));
  } else {
    picker.disabled = true;
    video.src = a.renditions[0].url;
    fail("This browser plays neither HLS nor MSE: showing the smallest MP4 rendition.");
  }
}

let started = false;
async function load() {
  let a;
  try {
    const r = await fetch(`/api/v1/assets/${encodeURIComponent(id)}`);
    a = await r.json();
    if (!r.ok) throw new Error(a.error || `HTTP ${r.status}`);
  } catch (e) {
    $("status").textContent = "unknown";
    $("error").textContent = `Could not load asset ${id}: ${e.message}`;
    return;
  }
  document.title = `streamscope — ${a.original_name}`;
  $("name").textContent = a.original_name || a.id;
  $("status").textContent = a.status;
  $("status").dataset.status = a.status;
  $("status").className = a.status;
  $("progress").hidden = a.status !== "processing";
  $("progress").value = a.progress || 0;
  $("error").textContent = a.error || "";
  metadata(a);
  if (a.status === "ready" && !started) {
    started = true;
    downloads(a);
    play(a);
    const enc = a.encrypted;
    if (enc && enc.status === "ready" && window.showEncrypted) window.showEncrypted(enc);
  } else if (a.status === "uploaded" || a.status === "processing") {
    setTimeout(load, 1000);
  }
}

load();
