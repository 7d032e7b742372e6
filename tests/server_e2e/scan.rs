//! `tessera scan IMAGE --add` on a tessera-server enrolment QR code: the same intake as
//! `tessera add URI` and the app's scan screen, so the push enrolment is set up, not dropped.

use crate::cli::scan::save;
use crate::common::Home;

use super::{Db, Login, Server, wait_pending};

#[test]
fn scanning_an_enrolment_qr_with_add_sets_up_codes_and_push_approvals() {
    let server = Server::start(Db::Sqlite);
    let home = Home::new();
    let image = save(&home, "enrolment.png", &[&server.enrol_uri("carol")]);
    let out = home.ok(&["scan", image.to_str().unwrap(), "--add"]);
    assert!(out.contains("added Tessera (carol)"), "{out}");
    assert!(out.contains("added push approvals for Tessera (carol)"), "{out}");
    let accounts = home.ok(&["push", "accounts", "--json"]);
    assert!(accounts.contains("\"backend\": \"tessera\""), "{accounts}");

    // And the enrolment works: a login reaches this device and is approved.
    let login = Login::start(&server, "carol", &["--mode", "approve"]);
    let pending = wait_pending(&home, 1);
    assert_eq!(pending.len(), 1);
    let approved = home.ok(&["push", "approve", &login.id[..8]]);
    assert!(approved.starts_with("approved"), "{approved}");
}

#[test]
fn an_enrolment_qr_among_other_codes_is_skipped_with_a_reason_not_half_added() {
    let server = Server::start(Db::Sqlite);
    let home = Home::new();
    let other = "otpauth://totp/Visma:me?secret=JBSWY3DPEHPK3PXP&issuer=Visma";
    let image = save(&home, "two.png", &[&server.enrol_uri("dave"), other]);
    let run = home.run(&["scan", image.to_str().unwrap(), "--add"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("added Visma (me)"), "{}", run.stdout);
    assert!(run.stderr.contains("scan or add it on its own"), "{}", run.stderr);
    let list = home.ok(&["list"]);
    assert!(!list.contains("dave"), "no codes without their push enrolment: {list}");
}
