//! Answering privacyIDEA logins from the notification (issue 12, point 6): the real app,
//! started with `--background` on an Xvfb screen, polls the privacyIDEA peer every 3 s; a
//! recording notification service on a private session bus offers the buttons and clicks them
//! (tests/common/desktop.rs). Approve, Deny, "This wasn't me" and number matching reach the
//! server from the notification; a request answered in the window has its notification
//! withdrawn; a locked app announces a request without its details.

use std::time::Duration;

use super::device;
use super::pi_peer::peer;
use crate::cli::screen_lock::{signal, vault_in_use, wait_until};
use crate::common::desktop::Desktop;

/// How long a notification may take: privacyIDEA is polled every 3 s, each poll signed with
/// the device's RSA-4096 key.
const POLLED: u64 = 30;

#[test]
fn privacyidea_logins_are_answered_from_the_notification_and_announced_while_locked() {
    let peer = peer();
    let mut device = device(&peer);
    let mut desktop = Desktop::start();
    desktop.enable_accessibility();
    desktop.launch(&device.home, &["--background"]);
    wait_until("the app opened the vault", 60, || vault_in_use(&device.home));
    let mut seen = 0;

    let (tid, _) = peer.trigger(&device.serial);
    let shown = desktop.next_shown(&mut seen, POLLED);
    assert!(shown.body.contains("Login by Alice from 127.0.0.1?"), "{shown:?}");
    assert!(shown.body.contains("seconds left to answer"), "{shown:?}");
    assert_eq!(shown.keys(), ["default", "approve", "deny", "not-me"]);
    desktop.click(shown.id, "approve");
    wait_until("the server recorded the approval", 20, || peer.outcome(&tid) == "accept");
    wait_until("the approved request's notification is withdrawn", 10, || desktop.closed(shown.id));

    let (tid, _) = peer.trigger(&device.serial);
    let shown = desktop.next_shown(&mut seen, POLLED);
    desktop.click(shown.id, "deny");
    wait_until("the server recorded the denial", 20, || peer.outcome(&tid) == "declined");

    let (tid, _) = peer.trigger(&device.serial);
    let shown = desktop.next_shown(&mut seen, POLLED);
    desktop.click(shown.id, "not-me");
    wait_until("the server recorded not-me", 20, || peer.outcome(&tid) == "declined");
    let reason = format!("transaction_id: {tid}, status: declined, reason: unknown_trigger");
    wait_until("the audit log says the user did not start it", 20, || {
        peer.audit(&device.serial).contains(&reason)
    });

    // Answered in the window: the notification's click opens the window on the request, its
    // Approve button (pressed over AT-SPI) answers it, and the notification is withdrawn.
    let (tid, _) = peer.trigger(&device.serial);
    let shown = desktop.next_shown(&mut seen, POLLED);
    desktop.click(shown.id, "default");
    desktop.press("Approve", 30);
    wait_until("the server recorded the window's approval", 20, || peer.outcome(&tid) == "accept");
    wait_until("the notification of a request answered in the window is withdrawn", 10, || {
        desktop.closed(shown.id)
    });

    // Number matching (privacyIDEA's push_require_presence): the numbers are the buttons and
    // only the right one approves.
    device.policy = Some("push_presence_notify");
    peer.set_policy("push_presence_notify", "authentication", "push_require_presence");
    let (tid, body) = peer.trigger(&device.serial);
    let shown = desktop.next_shown(&mut seen, POLLED);
    let picks: Vec<&str> =
        shown.keys().into_iter().filter_map(|k| k.strip_prefix("pick:")).collect();
    assert_eq!(picks.len(), 3, "{shown:?}");
    assert!(!shown.keys().contains(&"approve"), "number matching cannot be skipped: {shown:?}");
    let body = body.to_string();
    let right = picks.iter().find(|o| body.contains(&format!("\"presence_answer\":\"{o}\"")));
    desktop.click(shown.id, &format!("pick:{}", right.expect("the right number is offered")));
    wait_until("the right number approved it", 20, || peer.outcome(&tid) == "accept");
    peer.delete_policy("push_presence_notify");
    device.policy = None;

    // Locked by the screen lock: still polled, announced without the question.
    signal(&desktop.bus, "org.gnome.ScreenSaver", true);
    wait_until("the app locked", 20, || !vault_in_use(&device.home));
    let (tid, _) = peer.trigger(&device.serial);
    let locked = desktop.next_shown(&mut seen, POLLED);
    assert_eq!(locked.summary, "Tessera");
    assert!(locked.body.ends_with("unlock Tessera to answer"), "{locked:?}");
    assert!(!locked.body.contains("Alice") && !locked.body.contains("127.0.0.1"), "{locked:?}");
    assert_eq!(locked.keys(), ["default"]);
    desktop.click(locked.id, "approve");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(peer.outcome(&tid), "pending", "a locked app answers nothing");
    assert!(desktop.app_running(), "still running, still listening");
}
