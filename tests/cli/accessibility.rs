//! What a screen reader gets from the real app (issue 16, points 3 and 6): `tessera` on an
//! Xvfb screen with a private session bus and AT-SPI switched on (Debian's at-spi2-core starts
//! the accessibility bus on demand). scripts/a11y-tree.py reads the tree over AT-SPI with
//! pyatspi, as Orca does, and presses buttons by name; every check here is on what it read.
//!
//! On the accounts list, the add-account screen and settings, every interactive element has a
//! name; codes are spelled digit by digit ("9 9 5 1 3 1", never "995 131"); each row's
//! details button names issuer and account; the countdown carries its seconds as a value;
//! a copy is announced politely as "Code copied"; with "Hide codes until I click them" on, no
//! digit reaches the reader until the user shows a code.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::scan::start_xvfb;
use super::screen_lock::{Bus, bus, vault_in_use, wait_until};
use crate::common::Home;
use crate::common::desktop::{a11y_script, enable_accessibility};

const ALICE: &str = "Example Corp, alice@example.com";
const BOB: &str = "Example Corp, bob@example.com";

/// AT-SPI roles a user acts on; each needs a name.
const INTERACTIVE: [&str; 9] = [
    "push button",
    "toggle button",
    "check box",
    "radio button",
    "entry",
    "password text",
    "spin button",
    "combo box",
    "slider",
];

/// The app on the bus; killed when dropped.
struct App {
    child: Child,
    bus: Bus,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One element as AT-SPI reports it.
#[derive(Debug)]
struct Element {
    role: String,
    name: String,
    description: String,
    checked: bool,
    actions: Vec<String>,
    value: Option<(f64, f64, f64)>,
}

impl Element {
    fn interactive(&self) -> bool {
        INTERACTIVE.contains(&self.role.as_str()) || !self.actions.is_empty()
    }
}

impl App {
    fn run(&self, args: &[&str]) -> String {
        let out = a11y_script()
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .env_remove("DISPLAY")
            .output()
            .expect("python3 with pyatspi must be installed (scripts/system-packages.sh)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a11y-tree.py {args:?} failed:\n{stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn tree(&self) -> Vec<Element> {
        self.run(&["tree"])
            .lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap();
                let text = |k: &str| v[k].as_str().unwrap().to_owned();
                Element {
                    role: text("role"),
                    name: text("name"),
                    description: text("description"),
                    checked: v["checked"].as_bool().unwrap(),
                    actions: v["actions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect(),
                    value: v["value"].as_array().map(|a| {
                        let n = |i: usize| a[i].as_f64().unwrap();
                        (n(0), n(1), n(2))
                    }),
                }
            })
            .collect()
    }

    /// The tree once an element named `name` shows and two reads in a row agree on every
    /// element's role and name. The window updates asynchronously, and a read during a screen
    /// change can mix both screens (a CI run once saw the settings without their header).
    fn tree_with(&self, name: &str) -> Vec<Element> {
        self.tree_where(&format!("{name:?} shows"), |tree| tree.iter().any(|e| e.name == name))
    }

    /// The tree once `ready` holds for it and two reads in a row agree (see `tree_with`).
    fn tree_where(&self, what: &str, ready: impl Fn(&[Element]) -> bool) -> Vec<Element> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let shape = |tree: &[Element]| -> Vec<(String, String)> {
            tree.iter().map(|e| (e.role.clone(), e.name.clone())).collect()
        };
        let mut last = Vec::new();
        loop {
            let tree = self.tree();
            let now = shape(&tree);
            if ready(&tree) && now == last {
                return tree;
            }
            assert!(Instant::now() < deadline, "never steadily {what}: {tree:#?}");
            last = now;
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn press(&self, name: &str) {
        self.run(&["press", name]);
    }
}

/// Every interactive element has a name, and no code is read as grouped numbers.
fn assert_reads_right(tree: &[Element], screen: &str) {
    let unnamed: Vec<&Element> =
        tree.iter().filter(|e| e.interactive() && e.name.trim().is_empty()).collect();
    assert!(unnamed.is_empty(), "unnamed on {screen}: {unnamed:#?}");
    let grouped = |s: &str| {
        s.split(|c: char| !c.is_ascii_digit() && c != ' ')
            .any(|run| run.split(' ').filter(|w| w.len() >= 2).count() >= 2)
    };
    for e in tree {
        assert!(
            !grouped(&e.name) && !grouped(&e.description),
            "read as grouped numbers on {screen}: {e:#?}"
        );
    }
}

/// Whether `s` is a six-digit code spelled digit by digit ("9 9 5 1 3 1").
fn spelled(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 1 && p.as_bytes()[0].is_ascii_digit())
}

/// Whether `e` carries something like a code: five digits or more in its name or description.
fn code_like(e: &Element) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).count();
    digits(&e.name) >= 5 || digits(&e.description) >= 5
}

fn start() -> (App, Home, super::scan::Xvfb) {
    let home = Home::new();
    for account in ["alice@example.com", "bob@example.com"] {
        home.ok(&[
            "add",
            "--secret",
            "JBSWY3DPEHPK3PXP",
            "--issuer",
            "Example Corp",
            "--account",
            account,
        ]);
    }
    // Slint leaves elements scrolled out of view out of the tree: a window taller than any
    // screen's content puts every element in it (X windows may be larger than the screen).
    let settings = r#"{"language":"english","window_size":[480,2000]}"#;
    std::fs::write(home.data().join("settings.json"), settings).unwrap();
    let bus = bus();
    enable_accessibility(&bus);
    let xvfb = start_xvfb();
    let child = home
        .command()
        .env("DISPLAY", &xvfb.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let app = App { child, bus };
    wait_until("the app unlocked the vault", 60, || vault_in_use(&home));
    (app, home, xvfb)
}

#[test]
fn a_screen_reader_gets_names_spelled_codes_countdowns_and_the_copy() {
    let (app, home, _xvfb) = start();

    // The accounts list.
    let tree = app.tree_with(&format!("Details for {ALICE}"));
    assert_reads_right(&tree, "the accounts list");
    let details: Vec<&str> = tree
        .iter()
        .filter(|e| e.role == "push button" && e.name.starts_with("Details for"))
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(details, [format!("Details for {ALICE}"), format!("Details for {BOB}")]);
    let rows: Vec<&Element> =
        tree.iter().filter(|e| e.name.starts_with("Copy code for Example Corp")).collect();
    assert_eq!(rows.len(), 2, "{tree:#?}");
    for row in &rows {
        assert_eq!(row.role, "push button");
        assert!(spelled(&row.description), "the row describes its code: {row:#?}");
    }
    let codes: Vec<&Element> = tree.iter().filter(|e| spelled(&e.name)).collect();
    assert_eq!(codes.len(), 2, "each row's code is read digit by digit: {tree:#?}");
    assert!(codes.iter().all(|e| e.role == "label"), "{codes:#?}");
    let countdowns: Vec<&Element> = tree.iter().filter(|e| e.name == "Seconds left").collect();
    assert_eq!(countdowns.len(), 2, "{tree:#?}");
    for countdown in countdowns {
        assert_eq!(countdown.role, "progress bar");
        let (now, min, max) = countdown.value.expect("the countdown has a value");
        assert!((1.0..=30.0).contains(&now) && (min, max) == (0.0, 30.0), "{countdown:#?}");
    }

    // A copy is announced politely.
    let heard = app.run(&["announce", "Copy code for Example Corp alice@example.com", "3"]);
    let heard: Vec<Value> = heard.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Said once (AT-SPI's politeness 1 is "polite"); a toast going away announces "" (Slint
    // empties its label before removing it), which readers skip.
    let said: Vec<&Value> = heard.iter().filter(|h| h["text"] != "").collect();
    assert_eq!(said.len(), 1, "announcements: {heard:?}");
    assert_eq!((&said[0]["text"], &said[0]["politeness"]), (&"Code copied".into(), &1.into()));

    // Add account.
    app.press("Add account");
    let tree = app.tree_with("Account secret key");
    assert_reads_right(&tree, "add account");
    for name in ["Account name", "Issuer", "Scan QR code", "Cancel", "Add"] {
        assert!(tree.iter().any(|e| e.name == name && e.interactive()), "{name}: {tree:#?}");
    }
    let chosen: Vec<&str> =
        tree.iter().filter(|e| e.role == "toggle button" && e.checked).map(|e| &*e.name).collect();
    assert_eq!(chosen, ["Time-based"], "the chosen kind is said to be pressed");
    app.press("Cancel");

    // Settings: hide the codes.
    app.press("Settings");
    let tree = app.tree_with("Hide codes until I click them");
    assert_reads_right(&tree, "settings");
    for name in ["Auto-lock minutes", "Set password", "Turn on backups", "Back"] {
        assert!(tree.iter().any(|e| e.name == name && e.interactive()), "{name}: {tree:#?}");
    }
    let hide = tree.iter().find(|e| e.name == "Hide codes until I click them").unwrap();
    assert_eq!(hide.role, "check box");
    assert!(!hide.checked);
    app.press("Hide codes until I click them");
    wait_until("the choice was saved", 10, || {
        let saved = std::fs::read_to_string(home.data().join("settings.json")).unwrap();
        saved.contains(r#""hide_codes": true"#)
    });
    app.press("Back");

    // Hidden codes: "Code hidden", no digits, until one is shown.
    let tree = app.tree_with(&format!("Show code for {ALICE}"));
    assert_reads_right(&tree, "the accounts list with hidden codes");
    let codes: Vec<&Element> = tree.iter().filter(|e| code_like(e)).collect();
    assert!(codes.is_empty(), "no code reaches the reader: {codes:#?}");
    assert!(tree.iter().any(|e| e.name == "Code hidden"), "{tree:#?}");
    assert!(rows_describe(&tree, "Code hidden"));
    wait_for_a_fresh_period(&tree);
    app.press(&format!("Show code for {ALICE}"));
    let (show_alice, show_bob) = (format!("Show code for {ALICE}"), format!("Show code for {BOB}"));
    let tree = app.tree_where("Alice's code shows", |tree| {
        !tree.iter().any(|e| e.name == show_alice) && tree.iter().any(|e| e.name == show_bob)
    });
    let shown: Vec<&Element> = tree.iter().filter(|e| spelled(&e.name)).collect();
    assert_eq!(shown.len(), 1, "only Alice's code shows: {tree:#?}");
    let said = tree.iter().filter(|e| code_like(e) && !e.name.starts_with("Next: ")).count();
    assert_eq!(said, 2, "her code and her row's description: {tree:#?}");
}

/// Waits for the next period when the current one ends within 10 s (a code shown then would
/// hide again before the tree is read).
fn wait_for_a_fresh_period(tree: &[Element]) {
    let left = tree.iter().find_map(|e| e.value.filter(|_| e.name == "Seconds left"));
    let (left, _, _) = left.expect("a countdown");
    if left < 11.0 {
        std::thread::sleep(Duration::from_secs_f64(left + 1.0));
    }
}

/// Whether every row's copy button is described as `description`.
fn rows_describe(tree: &[Element], description: &str) -> bool {
    let rows: Vec<&Element> = tree.iter().filter(|e| e.name.starts_with("Copy code for")).collect();
    !rows.is_empty() && rows.iter().all(|e| e.description == description)
}
