//! The server links only what it uses: `cargo tree -p tessera-server -e normal` (its build
//! as shipped, without dev-dependencies) contains none of the app's crates (issue 11).

use std::process::Command;

/// Crates of the vault, the importers, the QR decoder and the devices' HTTP client.
const UNWANTED: &[&str] = &["keyring", "argon2", "rqrr", "scrypt", "reqwest"];

#[test]
fn the_server_builds_no_vault_qr_importer_or_http_client_crates() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-e", "normal", "--prefix", "none", "--manifest-path", manifest])
        .args(["-p", "tessera-server"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("tessera-core"), "the tree is the server's:\n{tree}");
    let found: Vec<&str> = tree
        .lines()
        .filter(|line| {
            UNWANTED.iter().any(|name| line.split(' ').next().unwrap_or("").contains(name))
        })
        .collect();
    assert!(found.is_empty(), "the server links {found:?}");
}
