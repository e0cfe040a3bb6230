//! Benchmark: the reference service's ladder and thumbnails, measured side by side in one run
//! with the service's own argv builders. Ladder: one decode split into every rendition (what
//! `serve` runs) against one ffmpeg per rendition, same outputs. Thumbnails: seeking before
//! the input (`-ss T -i`, what `serve` runs) against decoding the whole file (`-i X -vf fps`).
//! `cargo bench --bench ladder` (env BENCH_SIZE=1280x720, BENCH_SECONDS=10, BENCH_RUNS=3).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use service::ladder::{default_ladder, ladder_args, plan, thumbnail_args, thumbnail_times};
use service::storyboard;

/// CPU seconds (user + system) of this process's waited-for children so far.
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name's closing parenthesis; cutime and cstime are 16 and 17.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[13].parse::<f64>().unwrap() + f[14].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Run each ffmpeg in turn; (wall s, CPU s).
fn run_all(commands: &[Vec<String>]) -> (f64, f64) {
    let cpu = children_cpu();
    let t = Instant::now();
    for argv in commands {
        let ok = Command::new("ffmpeg")
            .args(["-v", "error"])
            .args(argv)
            .status()
            .unwrap();
        assert!(ok.success(), "ffmpeg {argv:?}");
    }
    (t.elapsed().as_secs_f64(), children_cpu() - cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let size = env("BENCH_SIZE", "1280x720");
    let seconds: u32 = env("BENCH_SECONDS", "10").parse().unwrap();
    let runs: usize = env("BENCH_RUNS", "3").parse().unwrap();
    let (w, h) = size.split_once('x').unwrap();
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("reference.mp4");
    common::generate(
        &master,
        &["--size", &size, "--duration", &format!("{seconds}s")],
    );
    let m = master.display().to_string();
    let out = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d.display().to_string()
    };
    let renditions = plan(&default_ladder(), w, h, None);
    let names: Vec<_> = renditions.iter().map(|r| r.name.as_str()).collect();
    let (one_dir, each_dir) = (out("one"), out("each"));
    let one = vec![ladder_args(&m, (w, h), &renditions, 60, 0, &one_dir)];
    let each: Vec<_> = (0..renditions.len())
        .map(|i| ladder_args(&m, (w, h), &renditions[i..=i], 60, 0, &each_dir))
        .collect();
    let times = thumbnail_times(f64::from(seconds), 5);
    let thumbs = out("thumbs");
    let fast: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, t)| thumbnail_args(&m, *t, 320, &format!("{thumbs}/fast{i}.jpg")))
        .collect();
    let slow = vec![
        [
            "-hide_banner",
            "-nostdin",
            "-y",
            "-i",
            &m,
            "-vf",
            &format!("fps=5/{seconds},scale=320:-2"),
            "-q:v",
            "3",
            &format!("{thumbs}/slow%02d.jpg"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect::<Vec<String>>(),
    ];
    // The storyboard: keyframes only (serve) vs decoding every frame.
    let board = storyboard::plan(f64::from(seconds), 2, w, h);
    let keyframes = vec![storyboard::args(
        &m,
        &board,
        &format!("{thumbs}/board-key.jpg"),
    )];
    let every = vec![
        [
            "-hide_banner",
            "-nostdin",
            "-y",
            "-i",
            &m,
            "-an",
            "-vf",
            &format!(
                "fps=1/{},scale={}:{},tile={}x{}",
                board.interval_s, board.tile_width, board.tile_height, board.columns, board.rows
            ),
            "-frames:v",
            "1",
            "-q:v",
            "4",
            &format!("{thumbs}/board-all.jpg"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect::<Vec<String>>(),
    ];
    // BENCH_LADDER=0 measures only the pictures (for long clips).
    let ladder = env("BENCH_LADDER", "1") != "0";
    let mut r: [Vec<(f64, f64)>; 6] = Default::default();
    // Alternated, so a busy moment of the machine does not favour one side.
    for _ in 0..runs {
        if ladder {
            r[0].push(run_all(&one));
            r[1].push(run_all(&each));
        }
        r[2].push(run_all(&fast));
        r[3].push(run_all(&slow));
        r[4].push(run_all(&keyframes));
        r[5].push(run_all(&every));
    }
    let wall = |i: usize| median(r[i].iter().map(|x| x.0).collect());
    let cpu = |i: usize| median(r[i].iter().map(|x| x.1).collect());
    let same = |a: &str, b: &str| {
        let probe = |p: &Path| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false);
        probe(Path::new(a)) && probe(Path::new(b))
    };
    for n in names.iter().filter(|_| ladder) {
        assert!(same(
            &format!("{one_dir}/{n}.mp4"),
            &format!("{each_dir}/{n}.mp4")
        ));
    }
    println!(
        "Ladder and thumbnails of a {seconds} s {size} 30 fps master, medians of {runs} alternated runs"
    );
    println!("| job | way | wall s | CPU s | ratio (wall) | ratio (CPU) |");
    println!("|---|---|---|---|---|---|");
    let label = names.join(" + ");
    if ladder {
        println!(
            "| ladder {label} | one decode, split (serve) | {:.2} | {:.2} | 1.00 | 1.00 |",
            wall(0),
            cpu(0)
        );
        println!(
            "| ladder {label} | one ffmpeg per rendition | {:.2} | {:.2} | {:.2} | {:.2} |",
            wall(1),
            cpu(1),
            wall(1) / wall(0),
            cpu(1) / cpu(0)
        );
    }
    println!(
        "| 5 thumbnails | seek before the input (serve) | {:.2} | {:.2} | 1.00 | 1.00 |",
        wall(2),
        cpu(2)
    );
    println!(
        "| 5 thumbnails | decode the whole file (-vf fps) | {:.2} | {:.2} | {:.2} | {:.2} |",
        wall(3),
        cpu(3),
        wall(3) / wall(2),
        cpu(3) / cpu(2)
    );
    let tiles = format!(
        "storyboard, {} tiles every {} s",
        board.tiles, board.interval_s
    );
    println!(
        "| {tiles} | keyframes only (serve) | {:.2} | {:.2} | 1.00 | 1.00 |",
        wall(4),
        cpu(4)
    );
    println!(
        "| {tiles} | decode every frame (-vf fps) | {:.2} | {:.2} | {:.2} | {:.2} |",
        wall(5),
        cpu(5),
        wall(5) / wall(4),
        cpu(5) / cpu(4)
    );
}
