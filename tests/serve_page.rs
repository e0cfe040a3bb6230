//! `streamscope serve`'s web pages in headless Chromium: upload through the form, watch the list
//! follow the job, play the asset's HLS with the vendored hls.js (it reaches `playing` and
//! time advances), switch renditions; file names shown as text, never as HTML.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::Browser;
use common::serve::*;
use common::*;

const LADDER: &str = "[[format]]\nname = \"360p\"\nheight = 360\nvideo_kbps = 800\n\n\
    [[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n";

/// A screenshot of the page, kept under the target folder to be looked at; checked to be a
/// real picture: the window's width and more than a few colours.
fn screenshot(b: &mut Browser, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = b.screenshot(&dir.join(name));
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    // The window's width; its height less the (headless) browser's own bars.
    assert!(info.width == 1200 && info.height > 600, "{name}: {info:?}");
    let px = info.color_type.samples();
    let mut colours: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "{name}: {} colours", colours.len());
}

#[test]
fn the_page_uploads_follows_the_job_and_plays_the_ladder_in_chromium() {
    if !require("ffmpeg") || !require("curl") || !require("chromium") {
        return;
    }
    let dir = tmp();
    let clip = talk_clip(dir.path(), &[]);
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(&ladder, LADDER).unwrap();
    let s = serve(dir.path(), &["--ladder", path_str(&ladder)]);

    // The pages' headers: a strict policy, the player revalidated by ETag.
    let index = head(&format!("{}/", s.url));
    assert!(
        index.contains("content-security-policy: default-src 'self'"),
        "{index}"
    );
    let player = head(&format!("{}/static/hls.light.min.js", s.url));
    let etag = header(&player, "etag").unwrap().to_owned();
    let (code, _) = curl(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &format!("{}/static/hls.light.min.js", s.url),
    ]);
    assert_eq!(code, 304);
    let (code, _) = curl(&[&format!("{}/assets/{}", s.url, "0".repeat(32))]);
    assert_eq!(code, 404, "an asset page that does not exist");

    let mut b = Browser::open(&format!("{}/", s.url));
    b.wait_until(
        "document.getElementById('empty')?.hidden === false",
        Duration::from_secs(30),
        "document.body.innerText",
    );
    // Upload through the form, as a user would.
    b.set_file("#file", &clip);
    b.eval("document.querySelector('#upload button').click()");
    let href = b.wait_until(
        "document.getElementById('uploaded')?.getAttribute('href')",
        Duration::from_secs(30),
        "document.getElementById('upload-status').textContent",
    );
    let id = href
        .as_str()
        .unwrap()
        .trim_start_matches("/assets/")
        .to_owned();
    // Uploaded resumably: through tus, whose record only a tus upload leaves.
    assert!(
        dir.path().join(format!("data/tus/{id}.json")).exists(),
        "the form uploaded with tus"
    );
    // The list follows the job to `ready`, without a reload.
    let row = format!("document.querySelector('tr[data-id=\"{id}\"]')");
    b.wait_until(
        &format!("{row}?.dataset.status === 'ready'"),
        Duration::from_secs(120),
        &format!("{row}?.innerText"),
    );
    let cells = b.eval(&format!("[...{row}.cells].map(c => c.innerText)"));
    assert_eq!(cells[1], "talk.mp4", "{cells}");
    assert_eq!(cells[5], "360p, 180p", "{cells}");
    b.wait_until(
        &format!("{row}.querySelector('img')?.naturalWidth > 0"),
        Duration::from_secs(10),
        &format!("{row}.innerHTML"),
    );
    screenshot(&mut b, "serve-index.png");

    // Not a video: the form says why, in a sentence.
    let notes = dir.path().join("notes.mp4");
    std::fs::write(&notes, "these are notes, not a video\n".repeat(10)).unwrap();
    b.set_file("#file", &notes);
    b.eval("document.querySelector('#upload button').click()");
    b.wait_until(
        "document.getElementById('upload-status').textContent.startsWith('Upload refused')",
        Duration::from_secs(30),
        "document.getElementById('upload-status').textContent",
    );
    let said = b.eval("document.getElementById('upload-status').textContent");
    assert!(
        said.as_str().unwrap().contains("not a media file"),
        "{said}"
    );

    // A hostile file name (sent with curl) is shown as text by the list.
    let evil = "<img src=x onerror=window.pwned=1>.mp4";
    let (code, _) = curl(&[
        "-F",
        &format!("file=@{};filename=\"{evil}\"", path_str(&clip)),
        &format!("{}/api/v1/assets", s.url),
    ]);
    assert_eq!(code, 201);
    b.wait_until(
        "document.querySelectorAll('#assets tbody tr').length === 2",
        Duration::from_secs(10),
        "document.body.innerText",
    );
    let shown =
        b.eval("[...document.querySelectorAll('#assets tbody tr a')].map(a => a.textContent)");
    assert!(
        shown.as_array().unwrap().iter().any(|n| n == evil),
        "{shown}"
    );
    assert_eq!(
        b.eval("window.pwned === undefined && !document.querySelector('img[src=x]')"),
        true
    );

    // The asset page plays the HLS ladder with hls.js.
    b.navigate(&format!("{}/assets/{id}", s.url));
    b.wait_until(
        "document.getElementById('video').dataset.state",
        Duration::from_secs(30),
        "document.getElementById('player-error').textContent",
    );
    assert_eq!(
        b.eval("document.getElementById('video').dataset.state"),
        "playing",
        "{}",
        b.eval("document.getElementById('player-error').textContent")
    );
    let t0 = b
        .eval("document.getElementById('video').currentTime")
        .as_f64()
        .unwrap();
    b.wait_until(
        &format!("document.getElementById('video').currentTime > {t0} + 0.5"),
        Duration::from_secs(20),
        "document.getElementById('video').currentTime",
    );
    // One picker entry per rendition (and Auto); choosing the smallest switches to it.
    let options = b.eval("[...document.getElementById('rendition').options].map(o => o.text)");
    assert_eq!(options.as_array().unwrap().len(), 3, "{options}");
    let small = options
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o.as_str().unwrap().starts_with("180p"))
        .unwrap_or_else(|| panic!("{options}"))
        - 1;
    b.eval(&format!(
        "{{ const p = document.getElementById('rendition'); p.value = '{small}'; \
         p.dispatchEvent(new Event('change')); }}"
    ));
    b.wait_until(
        &format!("document.getElementById('video').dataset.level === '{small}'"),
        Duration::from_secs(20),
        "document.getElementById('playing-level').textContent",
    );
    assert_eq!(
        b.eval("document.getElementById('playing-level').textContent"),
        "playing 320x180"
    );
    let meta = b.eval("document.getElementById('meta').innerText");
    assert!(meta.as_str().unwrap().contains("640x360"), "{meta}");
    let embed = b.eval("document.getElementById('embed').value");
    let embed = embed.as_str().unwrap();
    assert!(
        embed.contains(&format!("{}/files/{id}/stream/master.m3u8", s.url)),
        "{embed}"
    );
    let links = b.eval("document.querySelectorAll('#links a').length");
    assert_eq!(links, 6, "reference, two renditions, HLS, DASH, storyboard");
    b.wait_until(
        "document.getElementById('storyboard')?.naturalWidth === 320",
        Duration::from_secs(10),
        "document.getElementById('thumbs').innerHTML",
    );
    screenshot(&mut b, "serve-asset.png");
}
