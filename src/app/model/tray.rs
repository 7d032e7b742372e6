//! What the tray icon shows, derived from the inbox and the lock: the number of waiting
//! requests (tooltip, and a red dot on the icon), each waiting request as a menu entry that
//! opens the window on it, and whether "Lock" can be chosen. Like a locked notification, the
//! tray never names more than the service asking: who and where show only in the unlocked
//! window (NIST SP 800-63B-4 §3.1.3).

use tessera_core::push::PushRequest;

use super::announce::Words;
use crate::platform::tray::{TrayLabels, TrayStatus};

/// The tray for `waiting` requests; `listening` is false at a cold start of a password-only
/// vault, when no push key is available before the first unlock.
pub fn status(
    waiting: &[&PushRequest],
    unlocked: bool,
    listening: bool,
    words: &dyn Fn(Words<'_>) -> String,
) -> TrayStatus {
    let summary = match (waiting.len(), unlocked, listening) {
        (n @ 1.., _, _) => words(Words::Waiting(n)),
        (0, false, false) => words(Words::NotListening),
        (0, false, true) => words(Words::LockedListening),
        (0, true, _) => words(Words::NoneWaiting),
    };
    TrayStatus {
        title: "Tessera".into(),
        summary,
        attention: !waiting.is_empty(),
        requests: waiting
            .iter()
            .map(|r| (r.id.clone(), words(Words::RequestFrom(&r.title))))
            .collect(),
        labels: TrayLabels {
            open: words(Words::OpenTessera),
            lock: words(Words::Lock),
            quit: words(Words::Quit),
        },
        can_lock: unlocked,
    }
}

#[cfg(test)]
mod tests {
    use tessera_core::push::{PushBackendKind, RequestContext};

    use super::*;
    use crate::model::announce::english;

    fn request(id: &str, title: &str) -> PushRequest {
        PushRequest {
            id: id.into(),
            backend: PushBackendKind::Tessera,
            serial: "TS01".into(),
            title: title.into(),
            question: "Log in as alice?".into(),
            server: "push.example".into(),
            created: 1000,
            expires: 1060,
            require_presence: None,
            context: RequestContext {
                ip: Some("203.0.113.7".into()),
                location: Some("Utrecht, NL".into()),
                app: None,
                user_agent: None,
            },
            answer_url: "https://push.example/device/v1/answer".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    #[test]
    fn waiting_requests_are_counted_listed_and_ask_for_attention() {
        let (a, b) = (request("r1", "Zoë Bank"), request("r2", "Webmail"));
        let tray = status(&[&a, &b], true, true, &english);
        assert_eq!(tray.summary, "2 login requests are waiting");
        assert!(tray.attention && tray.can_lock);
        assert_eq!(
            tray.requests,
            [
                ("r1".to_owned(), "Login request from Zoë Bank".to_owned()),
                ("r2".to_owned(), "Login request from Webmail".to_owned())
            ]
        );
        assert_eq!(tray.labels.open, "Open Tessera");
        assert_eq!(status(&[&a], true, true, &english).summary, "A login request is waiting");
    }

    #[test]
    fn a_locked_tray_names_the_service_only_and_cannot_lock_again() {
        let a = request("r1", "Webmail");
        let tray = status(&[&a], false, true, &english);
        assert!(!tray.can_lock);
        let shown = format!("{tray:?}");
        assert!(!shown.contains("alice") && !shown.contains("203.0.113.7"), "{shown}");
    }

    #[test]
    fn the_tooltip_says_whether_requests_are_heard() {
        let none: [&PushRequest; 0] = [];
        assert_eq!(status(&none, true, true, &english).summary, "No login requests are waiting");
        assert_eq!(
            status(&none, false, true, &english).summary,
            "Locked: login requests are still announced; unlock to answer them"
        );
        assert_eq!(
            status(&none, false, false, &english).summary,
            "Locked: login requests are heard only after you unlock"
        );
        assert!(!status(&none, false, false, &english).attention);
    }
}
