//! Push that reaches you with the window hidden or the vault locked (issue 12): the real app,
//! started with `--background` on an Xvfb screen, long-polls the real `tessera-server`; a
//! recording `org.freedesktop.Notifications` service on a private session bus (it offers
//! buttons and clicks them by emitting `ActionInvoked`, as a desktop does) receives the
//! notification, and its Approve button approves the login for the relying party; a device
//! enrolled later for the same user is announced. Number matching, Deny and "This wasn't me"
//! work from the notification too, and a request answered in the window (opened by clicking
//! the notification) has its notification withdrawn. The same against privacyIDEA:
//! tests/push_e2e/notify.rs.

use std::time::{Duration, Instant};

use super::{Db, Login, Server, device};
use crate::cli::screen_lock::{signal, vault_in_use, wait_until};
use crate::common::desktop::{Desktop, Shown};

fn login_state(server: &Server, id: &str) -> String {
    let (_, outcome) = server.rp(reqwest::Method::GET, &format!("/rp/v1/logins/{id}"), None);
    outcome["state"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_hidden_app_notifies_a_login_and_its_approve_button_approves_it() {
    let server = Server::start(Db::Sqlite);
    let home = device(&server, "alice");
    let mut desktop = Desktop::start();
    desktop.launch(&home, &["--background"]);
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    // Let its first long poll reach the server, so the login below wakes it.
    std::thread::sleep(Duration::from_secs(2));

    let started = Instant::now();
    let login = Login::start(
        &server,
        "alice",
        &["--ip", "192.0.2.7", "--location", "Oslo, NO", "--rp", "Webmail"],
    );
    let shown = desktop.nth_shown(1, 20);
    eprintln!("login -> notification: {} ms", started.elapsed().as_millis());
    assert_eq!(shown.summary, "Webmail");
    assert!(shown.body.contains("192.0.2.7") && shown.body.contains("Oslo, NO"), "{shown:?}");
    assert!(shown.body.contains("seconds left to answer"), "{shown:?}");
    assert_eq!(shown.keys(), ["default", "approve", "deny", "not-me"]);
    assert_eq!(shown.urgency, Some(2));

    desktop.click(shown.id, "approve");
    assert_eq!(login.outcome(), (0, "approved".to_owned()), "the relying party sees approved");
    wait_until("the answered request's notification is withdrawn", 10, || desktop.closed(shown.id));

    // Locked by the screen lock: the next login is announced without its details, and a
    // click on a button the locked notification does not even have decides nothing.
    signal(&desktop.bus, "org.gnome.ScreenSaver", true);
    wait_until("the app locked", 20, || !vault_in_use(&home));
    let second = Login::start(&server, "alice", &["--rp", "Webmail", "--ip", "192.0.2.8"]);
    let locked = desktop.nth_shown(2, 20);
    assert_eq!(locked.summary, "Tessera");
    assert_eq!(locked.body, "Login request from Webmail — unlock Tessera to answer");
    assert!(!locked.body.contains("192.0.2.8"));
    assert_eq!(locked.keys(), ["default"]);
    desktop.click(locked.id, "approve");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(login_state(&server, &second.id), "pending", "a locked app answers nothing");
    assert!(desktop.app_running(), "still running, still listening");

    // Someone enrols another device for alice: the running app shows the server's notice
    // (issue 13, finding 7), even while locked.
    let _other = device(&server, "alice");
    let new_device = |n: &Shown| n.body.starts_with("A new device was enrolled");
    wait_until("the new-device notice came", 60, || {
        desktop.calls.lock().unwrap().shown.iter().any(new_device)
    });
    let notice =
        desktop.calls.lock().unwrap().shown.iter().find(|n| new_device(n)).cloned().unwrap();
    assert!(notice.body.contains("alice"), "{notice:?}");
    assert!(notice.actions.is_empty(), "{notice:?}");
}

/// A click that reaches the app before the reply to its Notify call (the service clicks
/// Approve first and answers after) still approves: the app records the notification's id
/// before it handles any click. A CI run once lost such an early click.
#[test]
fn a_click_that_arrives_before_the_notification_is_confirmed_still_counts() {
    let server = Server::start(Db::Sqlite);
    let home = device(&server, "alice");
    let mut desktop = Desktop::clicking_on_show("approve");
    desktop.launch(&home, &["--background"]);
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    std::thread::sleep(Duration::from_secs(2));
    let login = Login::start(&server, "alice", &["--rp", "Webmail"]);
    assert_eq!(login.outcome(), (0, "approved".to_owned()), "the early click approved it");
}

#[test]
fn pick_deny_and_not_me_from_a_notification_and_one_answered_in_the_window_is_withdrawn() {
    let server = Server::start(Db::Sqlite);
    let home = device(&server, "erin");
    let mut desktop = Desktop::start();
    desktop.enable_accessibility();
    desktop.launch(&home, &["--background"]);
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    std::thread::sleep(Duration::from_secs(2));
    let mut seen = 0;

    // Number matching: the three numbers are the buttons, and only the one on the login
    // screen is accepted.
    let login = Login::start(&server, "erin", &["--mode", "pick", "--rp", "Payroll"]);
    let right = login.shown.clone().unwrap();
    let shown = desktop.next_shown(&mut seen, 20);
    let keys = shown.keys();
    assert_eq!(keys.len(), 5, "Open, three numbers, not me: {shown:?}");
    assert_eq!((keys[0], keys[4]), ("default", "not-me"));
    assert!(keys.contains(&format!("pick:{right}").as_str()), "{shown:?}");
    assert!(!keys.contains(&"approve"), "number matching cannot be skipped: {shown:?}");
    desktop.click(shown.id, &format!("pick:{right}"));
    assert_eq!(login.outcome(), (0, "approved".to_owned()), "the right number approved it");
    wait_until("the picked request's notification is withdrawn", 10, || desktop.closed(shown.id));

    let login = Login::start(&server, "erin", &["--rp", "Payroll"]);
    let shown = desktop.next_shown(&mut seen, 20);
    desktop.click(shown.id, "deny");
    assert_eq!(login.outcome(), (1, "denied".to_owned()));
    wait_until("the denied request's notification is withdrawn", 10, || desktop.closed(shown.id));

    // Answered in the window: a click on the notification opens the window on the request,
    // the Approve button there (pressed over AT-SPI, as a screen reader user would) answers
    // it, and the notification goes away.
    let login = Login::start(&server, "erin", &["--rp", "Payroll", "--ip", "192.0.2.9"]);
    let shown = desktop.next_shown(&mut seen, 20);
    desktop.click(shown.id, "default");
    desktop.press("Approve", 30);
    assert_eq!(login.outcome(), (0, "approved".to_owned()), "approved in the window");
    wait_until("the notification of a request answered in the window is withdrawn", 10, || {
        desktop.closed(shown.id)
    });

    // "This wasn't me" reaches the server as such (it mutes the user: last).
    let login = Login::start(&server, "erin", &["--rp", "Payroll"]);
    let shown = desktop.next_shown(&mut seen, 20);
    assert_eq!(shown.actions.last().unwrap().1, "This wasn't me");
    desktop.click(shown.id, "not-me");
    assert_eq!(login.outcome(), (1, "not-me".to_owned()));
    let audit = server.admin(&["audit", "--user", "erin"]);
    assert!(audit.stdout.contains("\"not_me\""), "{}", audit.stdout);
}
