//! Tessera's one integration-test binary (one binary links the app once; see STACK.md).
//! Each module covers one shipped surface.
#![allow(clippy::unwrap_used, unreachable_pub)]

/// Shared fixtures and helpers for running the built binary in a throwaway home.
mod common;

/// The `tessera` command line end to end: the built binary, a temp TESSERA_HOME, real files.
mod cli;

/// The desktop app driven through i-slint-backend-testing by accessible label, with fakes.
mod ui;

/// Push approvals end to end: the binary against a real privacyIDEA server.
mod push_e2e;

/// Tessera's own push server end to end: `tessera-server` and `tessera` on 127.0.0.1.
mod server_e2e;

/// Fails when a test file exists under tests/ but no module includes it.
#[test]
fn every_test_file_is_part_of_the_test_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(root.join("main.rs")).unwrap();
    for dir in std::fs::read_dir(&root).unwrap() {
        let path = dir.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "main" || name == "fixtures" {
            continue;
        }
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            assert!(main.contains(&format!("mod {name};")), "tests/{name} is not in tests/main.rs");
        }
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap() {
                let inner = inner.unwrap().path();
                let stem = inner.file_stem().unwrap().to_string_lossy().into_owned();
                if inner.extension().is_some_and(|e| e == "rs") && stem != "mod" {
                    let module = std::fs::read_to_string(path.join("mod.rs")).unwrap_or_default();
                    assert!(
                        module.contains(&format!("mod {stem};")),
                        "tests/{name}/{stem}.rs is not in tests/{name}/mod.rs"
                    );
                }
            }
        }
    }
}
