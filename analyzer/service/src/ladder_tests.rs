//! Tests of the ladder's choices and its ffmpeg commands (exact strings).

use super::*;

fn f(name: &str, height: u32, video_kbps: u32) -> Format {
    Format {
        name: name.into(),
        height,
        video_kbps,
        audio_kbps: 128,
    }
}

#[test]
fn a_source_gets_no_upscaled_or_richer_rendition_but_always_the_smallest() {
    let ladder = default_ladder();
    // 1080p at 8 Mbit/s: everything.
    let all = plan(&ladder, 1920, 1080, Some(8000));
    let names: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["1080p", "720p", "540p", "360p"]);
    assert_eq!((all[2].width, all[2].height), (960, 540), "the iOS preset");
    // 720p at 2.5 Mbit/s: not 1080p (taller), not 720p (richer).
    let some = plan(&ladder, 1280, 720, Some(2500));
    let names: Vec<_> = some.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["540p", "360p"]);
    // A tiny, thin source: the smallest format, at the source's size.
    let tiny = plan(&ladder, 320, 180, Some(100));
    assert_eq!(tiny.len(), 1);
    assert_eq!(
        (tiny[0].name.as_str(), tiny[0].width, tiny[0].height),
        ("360p", 320, 180)
    );
    // Portrait 9:16 keeps its aspect; widths are even.
    let portrait = plan(&ladder, 1080, 1920, None);
    assert_eq!((portrait[0].width, portrait[0].height), (608, 1080));
    assert!(
        portrait
            .iter()
            .all(|p| p.width % 2 == 0 && p.height % 2 == 0)
    );
}

#[test]
fn a_ladder_file_is_read_and_checked() {
    let ok = parse_ladder(
        "[[format]]\nname = \"240p\"\nheight = 240\nvideo_kbps = 300\n\n[[format]]\nname = \"hd\"\nheight = 720\nvideo_kbps = 2500\naudio_kbps = 96\n",
    )
    .unwrap();
    assert_eq!(
        ok,
        vec![
            f("240p", 240, 300),
            Format {
                audio_kbps: 96,
                ..f("hd", 720, 2500)
            }
        ]
    );
    for (bad, why) in [
        ("", "no [[format]]"),
        (
            "[[format]]\nname = \"../x\"\nheight = 240\nvideo_kbps = 1\n",
            "must be 1-32",
        ),
        (
            "[[format]]\nname = \"a\"\nheight = 2\nvideo_kbps = 1\n",
            "height of 16-4320",
        ),
        (
            "[[format]]\nname = \"a\"\nheight = 240\nvideo_kbps = 1\ncolour = 1\n",
            "unknown field",
        ),
    ] {
        let e = parse_ladder(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad:?}: {e}");
    }
}

#[test]
fn one_decode_feeds_every_rendition() {
    let r = plan(&[f("360p", 360, 800), f("240p", 240, 400)], 640, 360, None);
    let args = ladder_args("/s/ref.mp4", (640, 360), &r, 60, 1, "/s/r").join(" ");
    assert_eq!(
        args,
        "-hide_banner -nostdin -y -i file:/s/ref.mp4 -filter_complex \
         [0:v]split=2[s0][s1];[s0]scale=640:360,setdar=640/360[v0];[s1]scale=426:240,setdar=640/360[v1] \
         -map [v0] -map 0:a:1? -c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryfast \
         -b:v 800k -maxrate 880k -bufsize 1600k -g 60 -keyint_min 60 -sc_threshold 0 \
         -c:a aac -ac 2 -b:a 128k -movflags +faststart file:/s/r/360p.mp4 \
         -map [v1] -map 0:a:1? -c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryfast \
         -b:v 400k -maxrate 440k -bufsize 800k -g 60 -keyint_min 60 -sc_threshold 0 \
         -c:a aac -ac 2 -b:a 128k -movflags +faststart file:/s/r/240p.mp4"
    );
    let one = ladder_args("/m", (4, 3), &r[..1], 50, 0, "/o").join(" ");
    assert!(
        one.contains("[0:v]split=1[s0];[s0]scale=640:360,setdar=4/3[v0]"),
        "{one}"
    );
}

#[test]
fn packaging_copies_into_dash_and_hls_over_one_set_of_segments() {
    let files = ["/r/a.mp4".to_owned(), "/r/b.mp4".to_owned()];
    assert_eq!(
        package_args(&files, true, 2, "/p").join(" "),
        "-hide_banner -nostdin -y -i file:/r/a.mp4 -i file:/r/b.mp4 -map 0:v -map 1:v -map 0:a \
         -c copy -f dash -seg_duration 2 -init_seg_name init-r2-$RepresentationID$.$ext$ \
         -media_seg_name chunk-r2-$RepresentationID$-$Number%05d$.$ext$ \
         -use_template 1 -use_timeline 0 -hls_playlist 1 \
         -hls_master_name master.m3u8 -adaptation_sets id=0,streams=v id=1,streams=a \
         file:/p/manifest.mpd"
    );
    let silent = package_args(&files[..1], false, 4, "/p").join(" ");
    assert!(silent.contains("-map 0:v -c copy") && silent.contains("id=0,streams=v file:"));
}

#[test]
fn thumbnails_seek_before_the_input_at_the_middle_of_equal_parts() {
    assert_eq!(
        thumbnail_args("/m.mp4", 1.5, 320, "/t/1.jpg").join(" "),
        "-hide_banner -nostdin -y -ss 1.500 -i file:/m.mp4 -frames:v 1 -vf scale=320:-2 -q:v 3 file:/t/1.jpg"
    );
    assert_eq!(thumbnail_times(4.0, 4), vec![0.5, 1.5, 2.5, 3.5]);
    assert_eq!(
        thumbnails_args(
            "/m.mp4",
            &[
                (1.0, 1280, "/t/poster.jpg".into()),
                (0.5, 320, "/t/00.jpg".into())
            ]
        )
        .join(" "),
        "-hide_banner -nostdin -y -ss 1.000 -i file:/m.mp4 -ss 0.500 -i file:/m.mp4 \
         -map 0:v:0 -frames:v 1 -vf scale=1280:-2 -q:v 3 file:/t/poster.jpg \
         -map 1:v:0 -frames:v 1 -vf scale=320:-2 -q:v 3 file:/t/00.jpg"
    );
}
