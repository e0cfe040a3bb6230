// streamscope serve: the asset page's encrypted player — the CENC/CBCS DASH or HLS played by
// shaka-player with ClearKey (EME), the key typed by the user (the server never keeps it).
// A key that does not decrypt the stream gets a sentence saying so, not a blank frame.
"use strict";

(() => {
  const $ = id => document.getElementById(id);
  let player = null;

  function say(message, state) {
    $("enc-status").textContent = message;
    $("enc-video").dataset.state = state;
  }

  // Why shaka stopped, for a person: decode and DRM failures under ClearKey mean a wrong key.
  function reason(e) {
    const code = e && e.code;
    const keyish = code === 3016 || code === 3014 || (code >= 6000 && code < 7000);
    return keyish
      ? `the key does not decrypt this stream — check the key (shaka error ${code})`
      : `the player stopped (shaka error ${code || "?"}${e && e.data ? ` ${JSON.stringify(e.data).slice(0, 300)}` : ""})`;
  }

  async function start(enc) {
    const key = $("enc-key").value.trim().toLowerCase().replace(/-/g, "");
    if (!/^[0-9a-f]{32}$/.test(key)) {
      say("A key is 32 hex digits (16 bytes).", "error");
      return;
    }
    const format = $("enc-format").value;
    const url = format === "hls" ? enc.hls : enc.dash;
    const video = $("enc-video");
    if (player) await player.destroy();
    say(`Loading the encrypted ${format.toUpperCase()}…`, "loading");
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      say("This browser cannot play encrypted media (no EME/MSE).", "error");
      return;
    }
    player = new shaka.Player();
    await player.attach(video);
    player.configure({ drm: { clearKeys: { [enc.kid]: key } } });
    player.addEventListener("error", ev => say(`Cannot play: ${reason(ev.detail)}.`, "error"));
    try {
      await player.load(url);
      await video.play();
    } catch (e) {
      // play() is aborted when the player fails: its own error event says why.
      if (e && e.name === "AbortError") return;
      say(`Cannot play: ${reason(e)}.`, "error");
    }
  }

  // Called by asset.js with the asset's `outputs.encrypted` once it is ready.
  window.showEncrypted = enc => {
    $("encrypted").hidden = false;
    $("enc-scheme").textContent = enc.scheme;
    $("enc-kid").textContent = enc.kid;
    const video = $("enc-video");
    video.addEventListener("playing", () => say(`Playing (${enc.scheme}, ClearKey).`, "playing"));
    $("enc-play").addEventListener("click", () => start(enc));
  };
})();
