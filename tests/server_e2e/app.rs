//! The desktop app against the real `tessera-server`: the app's long-poll worker (threads, as
//! in the shipped app) receives a login as soon as it is created, answers it, reconnects after
//! a server restart; the server holds a poll while the device already has every open login;
//! and the GUI enrols from a scanned enrolment QR, then approves a code-mode login.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tessera::Screen;
use tessera::push_worker::{Command, Engine, PushWorker, Report};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::push::tessera::{TesseraBackend, TesseraEnrolment};
use tessera_core::push::{Decision, PushAccount, PushBackend, ScheduleConfig};
use tessera_core::uri::{self, Payload};

use super::{Db, Login, Server};
use crate::common::live_app::LiveApp;

/// Enrols a device for `user` the way the app does, from the enrolment URI.
fn enrol(server: &Server, user: &str) -> PushAccount {
    let uri = server.enrol_uri(user);
    let Ok(Payload::Account(account)) = uri::classify(&uri) else { panic!("{uri}") };
    let enrolment = TesseraEnrolment::from_extra(&account.extra).unwrap().unwrap();
    let now = SystemClock.now();
    TesseraBackend::new()
        .unwrap()
        .enrol(&enrolment.to_enrolment(&account.issuer, &account.account), now, now)
        .unwrap()
}

/// The worker on its own threads, as in the app; reports go to a channel.
fn worker() -> (PushWorker, mpsc::Receiver<Report>) {
    let backend = TesseraBackend::new().unwrap().with_long_poll(25);
    let engine = Engine::new(
        vec![Arc::new(backend) as Arc<dyn PushBackend>],
        Arc::new(SystemClock),
        ScheduleConfig::default(),
    );
    let (tx, rx) = mpsc::channel();
    let worker = PushWorker::spawn(engine, move |reports| {
        for report in reports {
            let _ = tx.send(report);
        }
    });
    (worker, rx)
}

/// The next report that `pick` accepts, within `seconds`; others are skipped.
fn next<T>(rx: &mpsc::Receiver<Report>, seconds: u64, pick: impl Fn(Report) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let report = rx.recv_timeout(left).expect("the expected report did not come");
        if let Some(found) = pick(report) {
            return found;
        }
    }
}

#[test]
fn the_apps_long_poll_gets_a_login_once_answers_it_and_reconnects_after_a_restart() {
    let mut server = Server::start(Db::Sqlite);
    let account = enrol(&server, "alice");
    let (mut worker, rx) = worker();
    worker.send(Command::Start(vec![account]));

    let login = Login::start(&server, "alice", &["--mode", "pick", "--wait", "60"]);
    let request = next(&rx, 20, |r| match r {
        Report::Arrived(request) => Some(request),
        _ => None,
    });
    assert_eq!(request.id, login.id);
    let shown = login.shown.clone().unwrap();
    assert!(request.require_presence.as_ref().unwrap().contains(&shown), "{request:?}");
    let decision = Decision::Approve { answer: Some(shown) };
    worker.send(Command::Answer { id: request.id.clone(), decision, proof: None });
    let result = next(&rx, 20, |r| match r {
        Report::Answered { id, result } if id == request.id => Some(result),
        _ => None,
    });
    let item = result.unwrap();
    assert!(item.accepted);
    let (code, last) = login.outcome();
    assert_eq!((code, last.as_str()), (0, "approved"), "the relying party saw the approval");

    // A restart drops the held poll: the app reports trouble, backs off, and comes back.
    server.stop();
    next(&rx, 40, |r| matches!(r, Report::Trouble(_)).then_some(()));
    server.restart();
    next(&rx, 40, |r| matches!(r, Report::Recovered).then_some(()));
    let login = Login::start(&server, "alice", &["--wait", "60"]);
    let request = next(&rx, 20, |r| match r {
        Report::Arrived(request) => Some(request),
        _ => None,
    });
    assert_eq!(request.id, login.id, "logins reach the app after the reconnect");
    worker.send(Command::Answer { id: request.id.clone(), decision: Decision::NotMe, proof: None });
    let (code, last) = login.outcome();
    assert_eq!((code, last.as_str()), (1, "not-me"));
    worker.send(Command::Stop);
}

#[test]
fn a_long_poll_is_held_while_the_device_has_every_open_login_and_woken_by_a_new_one() {
    let server = Server::start(Db::Sqlite);
    let account = enrol(&server, "bob");
    let now = || SystemClock.now();
    let quick = TesseraBackend::new().unwrap();
    let first = Login::start(&server, "bob", &["--wait", "60"]);
    let listed = quick.poll(&account, now()).unwrap();
    assert_eq!(listed.len(), 1);

    // Without `known` the open login comes back at once; with it, the poll is held.
    let held = TesseraBackend::new().unwrap().with_long_poll(2);
    let started = Instant::now();
    let again = held.poll_changed(&account, &[], now()).unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500), "answered at once");
    assert_eq!(again.len(), 1);
    let started = Instant::now();
    let again = held.poll_changed(&account, std::slice::from_ref(&first.id), now()).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500), "held until the wait ran out");
    assert_eq!(again.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [first.id.as_str()]);

    // A second login wakes the held poll long before its 25 s.
    let long = TesseraBackend::new().unwrap().with_long_poll(25);
    let known = vec![first.id.clone()];
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let got = long.poll_changed(&account, &known, SystemClock.now()).unwrap();
        (started.elapsed(), got.len())
    });
    std::thread::sleep(Duration::from_millis(500));
    let second = Login::start(&server, "bob", &["--wait", "60"]);
    let (elapsed, count) = waiter.join().unwrap();
    assert_eq!(count, 2, "both open logins are listed");
    assert!(elapsed < Duration::from_secs(20), "woken by the new login, not the timeout");
    drop((first, second));
}

#[test]
fn gui_enrols_from_a_scanned_qr_then_approves_a_code_login() {
    let server = Server::start(Db::Sqlite);
    let uri = server.enrol_uri("carol");
    // Inline workers poll on the schedule; no long poll to hold the test's thread.
    let app = LiveApp::start(Arc::new(TesseraBackend::new().unwrap()), &uri);
    let vault = &app.vault;
    app.scan_clipboard();
    let offer = format!(
        "Tessera (carol) will ask this app to approve its logins. Requests come from 127.0.0.1:{}.",
        server.port
    );
    assert!(app.exists(&offer), "the offer names who and which server");
    let codes_too = "The account's 6-digit codes are added too, for when you have no connection.";
    assert!(app.exists(codes_too), "a Tessera QR brings the codes along");
    let warning = format!(
        "The connection to 127.0.0.1:{} is not protected (plain HTTP or no certificate check). \
         This is only allowed because the server runs on this computer.",
        server.port
    );
    assert!(app.exists(&warning), "plain HTTP on loopback is called out");
    assert!(vault.content().push_accounts.is_empty(), "nothing before confirming");
    app.click("Set up push approvals");
    assert_eq!(app.screen(), Screen::Accounts);
    let device = {
        let v = vault.content();
        assert_eq!(v.push_accounts.len(), 1, "the push account is stored");
        assert_eq!(v.entries.len(), 1, "with its codes, in the same save");
        assert_eq!(v.entries[0].account, "carol");
        v.push_accounts[0].serial.clone()
    };
    let devices = server.admin(&["devices", "carol"]);
    assert_eq!(devices.stdout.trim(), device, "the server has the device, active");

    // Scanning the same QR again is refused: its credential was used.
    app.scan_clipboard();
    assert!(app.exists(
        "Push approvals from this QR code are already set up. Ask the service for a new code \
         to set them up again."
    ));
    app.click("Cancel");

    let login = Login::start(&server, "carol", &["--mode", "code", "--wait", "60"]);
    let code = login.shown.clone().unwrap();
    app.wait_for("Code shown on the login screen", 20);
    assert_eq!(app.screen(), Screen::Approvals);
    app.type_into("Code shown on the login screen", &code);
    app.click("Approve");
    let (exit, last) = login.outcome();
    assert_eq!((exit, last.as_str()), (0, "approved"), "the typed code reached the server");
}

#[test]
fn the_cli_removes_a_push_account_and_keeps_its_codes() {
    let server = Server::start(Db::Sqlite);
    let home = super::device(&server, "dave");
    let accounts: serde_json::Value =
        serde_json::from_str(&home.ok(&["push", "accounts", "--json"])).unwrap();
    let serial = accounts[0]["serial"].as_str().unwrap().to_owned();

    let missing = home.run(&["push", "remove", "nope"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no push account matches \"nope\""), "{}", missing.stderr);
    assert!(missing.stderr.contains("nothing was removed"), "{}", missing.stderr);

    let out = home.ok(&["push", "remove", &serial[..8]]);
    assert!(out.starts_with(&format!("removed push account {serial} (Tessera)")), "{out}");
    assert!(out.contains("ask the service to remove this device too"), "{out}");
    assert_eq!(home.ok(&["push", "accounts", "--json"]).trim(), "[]");
    assert!(home.ok(&["list"]).contains("Tessera (dave)"), "the TOTP account stays");
    let pending = home.run(&["push", "pending"]);
    assert_eq!(pending.code, 1, "nothing left to poll");
}
