//! What a push request's desktop notification says and offers, and what a click in it means;
//! the words of the tray (see [`super::tray`]) are worded here too.
//!
//! On an unlocked app the notification carries the request's buttons: Approve and Deny, the
//! numbers of a number-matching request, "Open" for a code-entry request (typing needs the
//! window), and always "This wasn't me". Its body names the question (service and user),
//! where the login comes from and the time left. A locked app only announces that a request
//! arrived and from whom (NIST SP 800-63B-4 §3.1.3); a click opens the window to unlock. A
//! click decides exactly as the window's buttons do: the model refuses it while locked, and
//! the decision is signed over the same request the notification was made from.

use std::time::Duration;

use tessera_core::push::{Decision, PushRequest};

use crate::platform::notify::Announcement;

/// The words a notification needs, worded in the UI's language by the screens (English
/// without a window, [`english`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words<'a> {
    /// "Login request from {title} — unlock Tessera to answer".
    Locked(&'a str),
    /// "Approve".
    Approve,
    /// "Deny".
    Deny,
    /// "This wasn't me".
    NotMe,
    /// "Open".
    Open,
    /// "{n} seconds left to answer".
    SecondsLeft(u64),
    /// The tray menu's "Open Tessera".
    OpenTessera,
    /// The tray menu's "Lock".
    Lock,
    /// The tray menu's "Quit".
    Quit,
    /// A waiting request in the tray menu: "Login request from {title}".
    RequestFrom(&'a str),
    /// The tray's tooltip: "{n} login requests are waiting" (n ≥ 1).
    Waiting(usize),
    /// The tray's tooltip: "No login requests are waiting".
    NoneWaiting,
    /// The tray's tooltip while locked and listening.
    LockedListening,
    /// The tray's tooltip while nothing is listened for until the first unlock.
    NotListening,
}

/// The English wording.
pub fn english(words: Words<'_>) -> String {
    match words {
        Words::Locked(title) => format!("Login request from {title} — unlock Tessera to answer"),
        Words::Approve => "Approve".into(),
        Words::Deny => "Deny".into(),
        Words::NotMe => "This wasn't me".into(),
        Words::Open => "Open".into(),
        Words::SecondsLeft(n) => format!("{n} seconds left to answer"),
        Words::OpenTessera => "Open Tessera".into(),
        Words::Lock => "Lock".into(),
        Words::Quit => "Quit".into(),
        Words::RequestFrom(title) => format!("Login request from {title}"),
        Words::Waiting(1) => "A login request is waiting".into(),
        Words::Waiting(n) => format!("{n} login requests are waiting"),
        Words::NoneWaiting => "No login requests are waiting".into(),
        Words::LockedListening => {
            "Locked: login requests are still announced; unlock to answer them".into()
        }
        Words::NotListening => "Locked: login requests are heard only after you unlock".into(),
    }
}

/// The action key of a click on the notification itself (freedesktop's name for it).
pub const OPEN: &str = "default";
const APPROVE: &str = "approve";
const DENY: &str = "deny";
const NOT_ME: &str = "not-me";
const PICK: &str = "pick:";

/// The notification for `request` at `now`: full on an unlocked app, an announcement only on
/// a locked one.
pub fn announcement(
    request: &PushRequest,
    now: u64,
    unlocked: bool,
    words: &dyn Fn(Words<'_>) -> String,
) -> Announcement {
    let left = request.expires.saturating_sub(now);
    let expires_in = Some(Duration::from_secs(left.max(1)));
    if !unlocked {
        return Announcement {
            request: request.id.clone(),
            title: "Tessera".into(),
            body: words(Words::Locked(&request.title)),
            actions: vec![(OPEN.into(), words(Words::Open))],
            expires_in,
        };
    }
    let c = &request.context;
    let from: Vec<&str> = [&c.app, &c.ip, &c.location, &c.user_agent]
        .into_iter()
        .filter_map(|fact| fact.as_deref().filter(|f| !f.is_empty()))
        .collect();
    let mut body = request.question.clone();
    if !from.is_empty() {
        body.push('\n');
        body.push_str(&from.join(" · "));
    }
    body.push('\n');
    body.push_str(&words(Words::SecondsLeft(left)));
    let mut actions = vec![(OPEN.to_owned(), words(Words::Open))];
    match &request.require_presence {
        _ if request.code_entry => {}
        Some(options) => {
            actions.extend(options.iter().map(|n| (format!("{PICK}{n}"), n.clone())));
        }
        None => {
            actions.push((APPROVE.into(), words(Words::Approve)));
            actions.push((DENY.into(), words(Words::Deny)));
        }
    }
    actions.push((NOT_ME.into(), words(Words::NotMe)));
    Announcement {
        request: request.id.clone(),
        title: request.title.clone(),
        body,
        actions,
        expires_in,
    }
}

/// A server's notice to the user (a device was enrolled for them): shown once, locked or
/// not, because it names no secret and must not go unnoticed.
pub fn notice(id: String, message: String) -> Announcement {
    Announcement {
        request: id,
        title: "Tessera".into(),
        body: message,
        actions: Vec::new(),
        expires_in: None,
    }
}

/// What a click means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Click {
    /// Show the window on the request (or on the unlock screen).
    Open,
    /// Answer the request.
    Decide(Decision),
}

/// Reads the action key of a click on `request`'s notification; `None` for a key the
/// notification never offered (a number that is not one of the request's choices, a code
/// request's approve).
pub fn click(request: &PushRequest, action: &str) -> Option<Click> {
    let choices = request.require_presence.as_deref();
    match action {
        OPEN => Some(Click::Open),
        NOT_ME => Some(Click::Decide(Decision::NotMe)),
        DENY if choices.is_none() && !request.code_entry => Some(Click::Decide(Decision::Deny)),
        APPROVE if choices.is_none() && !request.code_entry => {
            Some(Click::Decide(Decision::Approve { answer: None }))
        }
        _ => {
            let number = action.strip_prefix(PICK)?;
            let offered = choices?.iter().any(|n| n == number) && !request.code_entry;
            offered.then(|| Click::Decide(Decision::Approve { answer: Some(number.to_owned()) }))
        }
    }
}

#[cfg(test)]
mod tests {
    use tessera_core::push::{PushBackendKind, RequestContext};

    use super::*;

    fn request(choices: Option<&[&str]>, code_entry: bool) -> PushRequest {
        PushRequest {
            id: "r1".into(),
            backend: PushBackendKind::Tessera,
            serial: "TS01".into(),
            title: "Example Corp".into(),
            question: "Log in as alice?".into(),
            server: "push.example".into(),
            created: 1000,
            expires: 1060,
            require_presence: choices.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            context: RequestContext {
                ip: Some("203.0.113.7".into()),
                location: Some("Utrecht, NL".into()),
                app: Some("Payroll".into()),
                user_agent: None,
            },
            answer_url: "https://push.example/device/v1/answer".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry,
            signed_challenge: None,
        }
    }

    fn keys(a: &Announcement) -> Vec<&str> {
        a.actions.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn an_unlocked_app_shows_who_where_time_left_and_the_right_buttons() {
        let a = announcement(&request(None, false), 1015, true, &english);
        assert_eq!(a.title, "Example Corp");
        assert_eq!(
            a.body,
            "Log in as alice?\nPayroll · 203.0.113.7 · Utrecht, NL\n45 seconds left to answer"
        );
        assert_eq!(keys(&a), ["default", "approve", "deny", "not-me"]);
        assert_eq!(a.expires_in, Some(Duration::from_secs(45)));
        let labels: Vec<&str> = a.actions.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["Open", "Approve", "Deny", "This wasn't me"]);

        let pick = announcement(&request(Some(&["17", "42", "88"]), false), 1015, true, &english);
        assert_eq!(keys(&pick), ["default", "pick:17", "pick:42", "pick:88", "not-me"]);
        let code = announcement(&request(None, true), 1015, true, &english);
        assert_eq!(keys(&code), ["default", "not-me"], "typing a code needs the window");
    }

    #[test]
    fn a_locked_app_announces_who_asks_and_nothing_else() {
        let a = announcement(&request(None, false), 1015, false, &english);
        assert_eq!(a.title, "Tessera");
        assert_eq!(a.body, "Login request from Example Corp — unlock Tessera to answer");
        assert_eq!(keys(&a), ["default"]);
        assert!(!a.body.contains("alice") && !a.body.contains("203.0.113.7"));
    }

    #[test]
    fn a_click_decides_only_what_the_notification_offered() {
        let plain = request(None, false);
        assert_eq!(
            click(&plain, "approve"),
            Some(Click::Decide(Decision::Approve { answer: None }))
        );
        assert_eq!(click(&plain, "deny"), Some(Click::Decide(Decision::Deny)));
        assert_eq!(click(&plain, "not-me"), Some(Click::Decide(Decision::NotMe)));
        assert_eq!(click(&plain, "default"), Some(Click::Open));
        assert_eq!(click(&plain, "pick:42"), None);
        assert_eq!(click(&plain, "delete-everything"), None);

        let pick = request(Some(&["17", "42", "88"]), false);
        assert_eq!(
            click(&pick, "pick:42"),
            Some(Click::Decide(Decision::Approve { answer: Some("42".into()) }))
        );
        assert_eq!(click(&pick, "pick:43"), None, "a number the request never offered");
        assert_eq!(click(&pick, "approve"), None, "number matching cannot be skipped");

        let code = request(None, true);
        assert_eq!(click(&code, "approve"), None, "a code request needs the code");
        assert_eq!(click(&code, "not-me"), Some(Click::Decide(Decision::NotMe)));
    }
}
