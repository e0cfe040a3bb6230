//! Every input in the fuzz corpora (`tests/fuzz/corpus/TARGET/`: seeds, inputs libFuzzer kept
//! for new coverage, and any that once crashed) run through the fuzz targets' bodies on every
//! `cargo test`, without libFuzzer: what was found stays found.

#[path = "fuzz/src/bodies.rs"]
mod bodies;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no corpus in {}", dir.display());
    inputs
}

fn run(target: &str, body: fn(&[u8])) {
    for (name, input) in corpus(target) {
        let result = std::panic::catch_unwind(|| body(&input));
        assert!(result.is_ok(), "{target}: {name} fails");
    }
}

#[test]
fn payload_corpus() {
    run("payload", bodies::payload);
}

#[test]
fn fail_if_corpus() {
    run("fail_if", bodies::fail_if);
}

#[test]
fn run_folder_corpus() {
    run("run_folder", bodies::run_folder);
}

#[test]
fn impairment_corpus() {
    run("impairment", bodies::impairment);
}

#[test]
fn qr_grid_corpus() {
    run("qr_grid", bodies::qr_grid);
}
