//! The global shortcut (issue 16) through a real X server: `tessera-gui --background` started
//! on Xvfb (no window manager) and a private session bus grabs Ctrl+Alt+T; the keys are sent
//! with xdotool, which goes through XTEST, so the X server itself activates the grab as it
//! would for a keyboard. The app then comes up with the keyboard focus, the typed letters go
//! into its search, Enter puts the top match's code on the X11 CLIPBOARD (read back here as
//! any X client reads it) and the window is hidden again.
//!
//! The grab itself is also driven without the app: keys another client holds are reported as
//! taken, and a press reaches the listener. In a Wayland session the app asks the desktop
//! portal instead: a GlobalShortcuts written here, served on the private bus, records the
//! binding and fires `Activated` as a desktop does.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tessera::platform::shortcut::{Binding, GlobalShortcut, ShortcutEvent, X11Shortcut};
use x11rb::connection::Connection as _;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt as _, CreateWindowAux, GrabMode, ModMask, WindowClass,
};

use super::instance::window_shown;
use super::screen_lock::{bus, vault_in_use, wait_until};
use crate::common::Home;

const EXAMPLE_KEY: &str = "JBSWY3DPEHPK3PXP";
const OTHER_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// `tessera-gui --background` on `home` (its vault, the password file, no OS keyring).
fn gui(home: &Home) -> Command {
    let probe = home.command();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-gui"));
    for (key, value) in probe.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command.arg("--background").stdin(Stdio::null());
    command
}

fn xdotool(display: &str, args: &[&str]) {
    let status = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .status()
        .expect("xdotool must be installed for this test (apt-get install -y xdotool)");
    assert!(status.success(), "xdotool {args:?}");
}

/// Tries to grab Ctrl+Alt+T as another program would: true if the X server refuses because
/// someone holds it (a successful grab is released at once).
fn ctrl_alt_t_is_held(display: &str) -> bool {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let keycode = keycode_of(&conn, u32::from(b't'));
    let grabbed = conn
        .grab_key(
            false,
            root,
            ModMask::CONTROL | ModMask::M1,
            keycode,
            GrabMode::ASYNC,
            GrabMode::ASYNC,
        )
        .unwrap()
        .check();
    grabbed.is_err()
}

fn keycode_of(conn: &impl x11rb::connection::Connection, keysym: u32) -> u8 {
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let map = conn.get_keyboard_mapping(min, max - min + 1).unwrap().reply().unwrap();
    let per = usize::from(map.keysyms_per_keycode);
    let index = map.keysyms.chunks(per).position(|syms| syms.contains(&keysym)).unwrap();
    min + u8::try_from(index).unwrap()
}

/// The process owning the window that has the keyboard focus (its `_NET_WM_PID`).
fn focused_pid(display: &str) -> Option<u32> {
    let (conn, _) = x11rb::connect(Some(display)).unwrap();
    let focus = conn.get_input_focus().unwrap().reply().unwrap().focus;
    if focus <= 1 {
        return None; // None or PointerRoot
    }
    let atom = conn.intern_atom(false, b"_NET_WM_PID").unwrap().reply().unwrap().atom;
    let reply =
        conn.get_property(false, focus, atom, AtomEnum::CARDINAL, 0, 1).ok()?.reply().ok()?;
    reply.value32()?.next()
}

/// The CLIPBOARD's text, asked of its owner (the app) as every X client asks.
fn clipboard(display: &str) -> Option<String> {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id().unwrap();
    conn.create_window(
        0,
        window,
        root,
        0,
        0,
        1,
        1,
        0,
        WindowClass::INPUT_ONLY,
        0,
        &CreateWindowAux::new(),
    )
    .unwrap();
    let atom = |name: &str| conn.intern_atom(false, name.as_bytes()).unwrap().reply().unwrap().atom;
    let (selection, utf8, target) = (atom("CLIPBOARD"), atom("UTF8_STRING"), atom("TESSERA_TEST"));
    conn.convert_selection(window, selection, utf8, target, 0u32).unwrap();
    conn.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match conn.poll_for_event().unwrap() {
            Some(Event::SelectionNotify(notify)) => {
                if notify.property == u32::from(AtomEnum::NONE) {
                    return None;
                }
                let reply = conn
                    .get_property(true, window, target, AtomEnum::ANY, 0, 1024)
                    .unwrap()
                    .reply()
                    .unwrap();
                return String::from_utf8(reply.value).ok();
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    None
}

/// The codes of `key` now and in the period before (the copy may have been a moment ago).
fn recent_codes(key: &str) -> [String; 2] {
    let otp =
        tessera_core::otp::OtpParams::totp(tessera_core::otp::Secret::parse_base32(key).unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    [otp.code_at(now), otp.code_at(now - 30)]
}

#[test]
fn ctrl_alt_t_from_anywhere_brings_up_the_search_and_enter_copies_the_match_and_hides_it() {
    let home = Home::new();
    home.ok(&["add", "--secret", EXAMPLE_KEY, "--issuer", "Example", "--account", "ada"]);
    home.ok(&["add", "--secret", OTHER_KEY, "--issuer", "Other", "--account", "bob"]);
    let bus = bus();
    let xvfb = super::scan::start_xvfb();
    let mut app = gui(&home)
        .env("DISPLAY", &xvfb.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("XDG_SESSION_TYPE", "x11")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    // The grab is made before the event loop starts, long before the vault's key derivation
    // ends; one try (a grab of ours that succeeded could otherwise take the keys from it).
    std::thread::sleep(Duration::from_millis(500));
    assert!(ctrl_alt_t_is_held(&xvfb.display), "the app holds Ctrl+Alt+T");
    assert!(!window_shown(&xvfb.display), "started in the background");
    assert_eq!(focused_pid(&xvfb.display), None, "nothing has the focus");

    xdotool(&xvfb.display, &["key", "ctrl+alt+t"]);
    wait_until("the window came up with the keyboard focus", 20, || {
        window_shown(&xvfb.display) && focused_pid(&xvfb.display) == Some(app.id())
    });
    xdotool(&xvfb.display, &["type", "--delay", "60", "oth"]);
    xdotool(&xvfb.display, &["key", "Return"]);
    wait_until("the window is hidden again", 20, || !window_shown(&xvfb.display));
    let copied = clipboard(&xvfb.display).expect("the app serves the clipboard");
    assert!(recent_codes(OTHER_KEY).contains(&copied), "Other's code, not Example's: {copied}");

    // Again, and Esc: hidden without copying.
    xdotool(&xvfb.display, &["key", "ctrl+alt+t"]);
    wait_until("the window came up again", 20, || {
        window_shown(&xvfb.display) && focused_pid(&xvfb.display) == Some(app.id())
    });
    xdotool(&xvfb.display, &["type", "--delay", "60", "exa"]);
    xdotool(&xvfb.display, &["key", "Escape"]);
    wait_until("Esc hid it again", 20, || !window_shown(&xvfb.display));
    assert_eq!(clipboard(&xvfb.display), Some(copied), "nothing else was copied");
    assert!(app.try_wait().unwrap().is_none(), "hidden, still running");
    let _ = app.kill();
    let _ = app.wait();
}

#[test]
fn keys_another_program_holds_are_taken_and_a_press_reaches_the_listener() {
    let xvfb = super::scan::start_xvfb();
    let (conn, screen) = x11rb::connect(Some(&xvfb.display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let k = keycode_of(&conn, u32::from(b'k'));
    let mods = ModMask::CONTROL | ModMask::SHIFT;
    conn.grab_key(false, root, mods, k, GrabMode::ASYNC, GrabMode::ASYNC).unwrap().check().unwrap();

    let (tx, events) = mpsc::channel();
    let tx = Mutex::new(tx);
    let grab = X11Shortcut::start(
        Some(&xvfb.display),
        Arc::new(move |event| tx.lock().unwrap().send(event).unwrap()),
    )
    .unwrap();
    let next = || events.recv_timeout(Duration::from_secs(10)).unwrap();
    grab.bind(Some("Ctrl+Shift+K".parse().unwrap()));
    assert_eq!(next(), ShortcutEvent::Status(Binding::Taken("Ctrl+Shift+K".into())));

    conn.ungrab_key(k, root, mods).unwrap().check().unwrap();
    grab.bind(Some("ctrl+shift+k".parse().unwrap()));
    assert_eq!(next(), ShortcutEvent::Status(Binding::Bound("Ctrl+Shift+K".into())));
    // Caps Lock on changes the press's state; the shortcut still works.
    xdotool(&xvfb.display, &["key", "Caps_Lock", "ctrl+shift+k", "Caps_Lock"]);
    let heard = next();
    assert!(matches!(heard, ShortcutEvent::Pressed { .. }), "the press was heard: {heard:?}");
    xdotool(&xvfb.display, &["key", "ctrl+k"]);
    grab.bind(None);
    assert_eq!(next(), ShortcutEvent::Status(Binding::Off), "Ctrl+K alone was not heard");
    assert!(
        conn.grab_key(false, root, mods, k, GrabMode::ASYNC, GrabMode::ASYNC)
            .unwrap()
            .check()
            .is_ok(),
        "released: others may take the keys"
    );
}

/// A desktop portal's GlobalShortcuts, as xdg-desktop-portal exposes it (Debian has no
/// headless backend): sessions and bindings answered through `org.freedesktop.portal.Request`
/// `Response` signals; the test then fires `Activated` as the desktop does on a key press.
struct Portal {
    sessions: Arc<Mutex<Vec<String>>>,
    /// Each BindShortcuts call's (id, description, preferred trigger).
    bound: Arc<Mutex<Vec<(String, String, String)>>>,
}

type Options = std::collections::HashMap<String, zbus::zvariant::OwnedValue>;

fn text(options: &Options, key: &str) -> String {
    options.get(key).and_then(|v| <&str>::try_from(v).ok()).unwrap_or_default().to_owned()
}

/// The request object's path for a caller's handle token (the spec's rule).
fn request_path(header: &zbus::message::Header<'_>, token: &str) -> String {
    let sender = header.sender().unwrap().trim_start_matches(':').replace('.', "_");
    format!("/org/freedesktop/portal/desktop/request/{sender}/{token}")
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl Portal {
    async fn create_session(
        &self,
        options: Options,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> zbus::zvariant::OwnedObjectPath {
        let request = request_path(&header, &text(&options, "handle_token"));
        let sender = header.sender().unwrap().trim_start_matches(':').replace('.', "_");
        let session = format!(
            "/org/freedesktop/portal/desktop/session/{sender}/{}",
            text(&options, "session_handle_token")
        );
        self.sessions.lock().unwrap().push(session.clone());
        let results = std::collections::HashMap::from([(
            "session_handle",
            zbus::zvariant::Value::from(session.as_str()),
        )]);
        respond(conn, &header, &request, results).await;
        request.try_into().unwrap()
    }

    async fn bind_shortcuts(
        &self,
        session: zbus::zvariant::OwnedObjectPath,
        shortcuts: Vec<(String, Options)>,
        _parent_window: String,
        options: Options,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> zbus::zvariant::OwnedObjectPath {
        let request = request_path(&header, &text(&options, "handle_token"));
        assert!(self.sessions.lock().unwrap().contains(&session.to_string()), "a known session");
        let mut assigned = Vec::new();
        for (id, info) in &shortcuts {
            let (description, trigger) =
                (text(info, "description"), text(info, "preferred_trigger"));
            self.bound.lock().unwrap().push((id.clone(), description.clone(), trigger));
            // The desktop's own words for the keys it gave.
            let info = std::collections::HashMap::from([
                ("description", zbus::zvariant::Value::from(description)),
                ("trigger_description", zbus::zvariant::Value::from("Ctrl+Alt+T")),
            ]);
            assigned.push((id.clone(), info));
        }
        let results =
            std::collections::HashMap::from([("shortcuts", zbus::zvariant::Value::from(assigned))]);
        respond(conn, &header, &request, results).await;
        request.try_into().unwrap()
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

async fn respond(
    conn: &zbus::Connection,
    header: &zbus::message::Header<'_>,
    request: &str,
    results: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
) {
    conn.emit_signal(
        header.sender().map(|s| s.as_str()),
        request,
        "org.freedesktop.portal.Request",
        "Response",
        &(0u32, results),
    )
    .await
    .unwrap();
}

/// The app's mapped window on `display` (the one whose `_NET_WM_PID` is `pid`).
fn window_of(display: &str, pid: u32) -> Option<u32> {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let atom = conn.intern_atom(false, b"_NET_WM_PID").unwrap().reply().unwrap().atom;
    let tree = conn.query_tree(root).unwrap().reply().unwrap();
    tree.children.into_iter().find(|&w| {
        let owner = conn.get_property(false, w, atom, AtomEnum::CARDINAL, 0, 1).unwrap().reply();
        let mapped = conn.get_window_attributes(w).unwrap().reply();
        owner.ok().and_then(|r| r.value32().and_then(|mut v| v.next())) == Some(pid)
            && mapped.is_ok_and(|a| a.map_state == x11rb::protocol::xproto::MapState::VIEWABLE)
    })
}

#[test]
fn in_a_wayland_session_the_desktop_portal_binds_the_shortcut_and_its_activation_brings_up_tessera()
{
    let home = Home::new();
    home.ok(&["add", "--secret", EXAMPLE_KEY, "--issuer", "Example", "--account", "ada"]);
    home.ok(&["add", "--secret", OTHER_KEY, "--issuer", "Other", "--account", "bob"]);
    let bus = bus();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let bound = Arc::new(Mutex::new(Vec::new()));
    let portal = Portal { sessions: Arc::clone(&sessions), bound: Arc::clone(&bound) };
    let desktop = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.portal.Desktop")
        .unwrap()
        .serve_at("/org/freedesktop/portal/desktop", portal)
        .unwrap()
        .build()
        .unwrap();
    let xvfb = super::scan::start_xvfb();
    // A Wayland session (the app's window still goes to Xvfb, as XWayland would take it): the
    // shortcut is asked of the portal, not grabbed.
    let mut app = gui(&home)
        .env("DISPLAY", &xvfb.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("XDG_SESSION_TYPE", "wayland")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the app bound its shortcut with the portal", 60, || {
        !bound.lock().unwrap().is_empty()
    });
    assert_eq!(
        *bound.lock().unwrap(),
        [(
            "show".to_owned(),
            "Show Tessera with the search ready".to_owned(),
            "CTRL+ALT+t".to_owned()
        )],
        "the default keys, as the shortcuts spec writes them"
    );
    assert!(!ctrl_alt_t_is_held(&xvfb.display), "no X grab in a Wayland session");
    wait_until("the app opened the vault", 60, || vault_in_use(&home));
    assert!(!window_shown(&xvfb.display));

    let session = sessions.lock().unwrap()[0].clone();
    let no_options: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> =
        std::collections::HashMap::new();
    desktop
        .emit_signal(
            None::<&str>,
            "/org/freedesktop/portal/desktop",
            "org.freedesktop.portal.GlobalShortcuts",
            "Activated",
            &(
                zbus::zvariant::ObjectPath::try_from(session.as_str()).unwrap(),
                "show",
                0u64,
                no_options,
            ),
        )
        .unwrap();
    wait_until("the window came up", 20, || window_of(&xvfb.display, app.id()).is_some());
    // The compositor gives the focus on Wayland; here the test does.
    let window = window_of(&xvfb.display, app.id()).unwrap();
    xdotool(&xvfb.display, &["windowfocus", "--sync", &window.to_string()]);
    xdotool(&xvfb.display, &["type", "--delay", "60", "oth"]);
    xdotool(&xvfb.display, &["key", "Return"]);
    wait_until("the window is hidden again", 20, || !window_shown(&xvfb.display));
    let copied = clipboard(&xvfb.display).expect("the app serves the clipboard");
    assert!(recent_codes(OTHER_KEY).contains(&copied), "Other's code: {copied}");
    let _ = app.kill();
    let _ = app.wait();
}
