//! The CloudFormation templates checked offline, as CI checks them: `cfn-lint` finds nothing
//! (no error, no warning), and `cfn-guard` passes every policy rule of `cloudformation/rules`
//! on each template that has what the rule is about — and fails every one of them on a
//! deliberately open variant, so the rules are known to bite.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn cfn_lint() -> Option<PathBuf> {
    common::venv_tool("cfn-lint")
}

/// cfn-guard, `cargo install`ed by `scripts/setup.sh`: on PATH or in `$CARGO_HOME/bin`.
fn cfn_guard() -> Option<PathBuf> {
    let on_path = Command::new("cfn-guard")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then(|| PathBuf::from("cfn-guard"));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let installed = cargo_home
        .map(|h| h.join("bin/cfn-guard"))
        .filter(|p| p.is_file());
    common::required(on_path.or(installed), "cfn-guard")
}

fn templates() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudformation");
    let mut t: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    t.sort();
    assert!(!t.is_empty());
    t
}

/// The rules of `rules/assets.guard`, each failed by `tests/fixtures/cfn/assets-public.yaml`.
const BUCKET_RULES: [&str; 4] = [
    "bucket_is_private_and_encrypted",
    "cloudfront_uses_oac_and_https",
    "bucket_policy_is_tls_only",
    "bucket_policy_allows_only_scoped_principals",
];

/// The rules of `rules/service.guard`, each failed by `tests/fixtures/cfn/service-open.yaml`.
const SERVICE_RULES: [&str; 5] = [
    "roles_have_no_wildcards",
    "task_roles_touch_only_their_prefix",
    "database_is_private_and_encrypted",
    "listeners_are_https_or_redirect",
    "tasks_log_and_keep_secrets_secret",
];

/// `cfn-guard validate` of `template` against the rules: (exit code, output).
fn guard(exe: &Path, template: &Path) -> (Option<i32>, String) {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudformation/rules");
    let out = Command::new(exe)
        .args(["validate", "--show-summary", "all", "-r"])
        .arg(rules)
        .arg("-d")
        .arg(template)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The status cfn-guard gave `rule` in its summary (PASS, FAIL, SKIP).
fn status_of(text: &str, rule: &str) -> String {
    text.lines()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.ends_with(&format!("/{rule}")) || w == rule)
        })
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("{rule} not in the summary:\n{text}"))
        .to_owned()
}

#[test]
fn cfn_lint_finds_no_error_and_no_warning() {
    let Some(lint) = cfn_lint() else { return };
    for t in templates() {
        let out = Command::new(&lint).arg(&t).output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "cfn-lint {}:\n{}{}",
            t.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_policy_rule_passes_on_the_templates_and_fails_on_an_open_variant() {
    let Some(exe) = cfn_guard() else { return };
    let all: Vec<&str> = BUCKET_RULES.iter().chain(&SERVICE_RULES).copied().collect();
    let mut passed_somewhere = std::collections::HashSet::new();
    for t in templates() {
        let (code, text) = guard(&exe, &t);
        assert_eq!(code, Some(0), "{}:\n{text}", t.display());
        // A rule about resources a template does not have is skipped there.
        for rule in &all {
            let status = status_of(&text, rule);
            assert!(
                status == "PASS" || status == "SKIP",
                "{rule} on {}: {status}\n{text}",
                t.display()
            );
            if status == "PASS" {
                passed_somewhere.insert(*rule);
            }
        }
    }
    for rule in &all {
        assert!(passed_somewhere.contains(rule), "{rule} checked nothing");
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cfn");
    for (bad, rules) in [
        ("assets-public.yaml", &BUCKET_RULES[..]),
        ("service-open.yaml", &SERVICE_RULES[..]),
    ] {
        let (code, text) = guard(&exe, &fixtures.join(bad));
        assert_ne!(code, Some(0), "{text}");
        for rule in rules {
            assert_eq!(status_of(&text, rule), "FAIL", "{rule} on {bad}:\n{text}");
        }
    }
}
