//! The global shortcut (default Ctrl+Alt+T): it brings Tessera to the front from any app.
//!
//! Two mechanisms, picked by the session ([`system`]):
//! - **X11**: a passive key grab on the root window with `x11rb` (already in the tree), on a
//!   connection of its own whose thread waits for the key presses. A grab names exact
//!   modifiers, so Caps Lock and Num Lock variants are grabbed too. Another client holding the
//!   same keys makes the grab fail with `BadAccess`: the keys are [`Binding::Taken`]. After a
//!   press the window is given the keyboard focus ([`GlobalShortcut::activate`]): through the
//!   window manager's `_NET_ACTIVE_WINDOW` with the press's timestamp where one runs (EWMH),
//!   or directly with `SetInputFocus` where none does.
//! - **Wayland** (and XWayland apps in a Wayland session, where an X grab only sees keys typed
//!   into X windows): the XDG desktop portal's `org.freedesktop.portal.GlobalShortcuts`
//!   through `ashpd` on the zbus 5 and async-io executor the app already uses (no Tokio:
//!   ashpd's `async-io` feature). The desktop decides the keys; ours is only the preferred
//!   trigger, and the keys it assigned are shown in settings. Where the portal lacks the
//!   interface the desktop offers no global shortcuts ([`Binding::Unsupported`]). Raising the
//!   window is the compositor's call: Slint cannot hand it the portal's activation token yet.
//!
//! Windows and macOS have no implementation yet (`RegisterHotKey` and Carbon's
//! `RegisterEventHotKey` would be the candidates); settings say that the desktop offers none.

use std::fmt;
use std::str::FromStr;

/// A key combination: one or more modifiers and one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortcut {
    /// Control.
    pub ctrl: bool,
    /// Alt.
    pub alt: bool,
    /// Shift.
    pub shift: bool,
    /// Super (the Windows or Command key).
    pub super_key: bool,
    /// The key.
    pub key: Key,
}

/// The key of a [`Shortcut`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A letter A–Z (kept upper case) or a digit 0–9.
    Char(char),
    /// A function key F1–F24.
    F(u8),
    /// The space bar.
    Space,
}

/// Why a written shortcut is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShortcutError {
    /// A part is neither a modifier nor a key we know.
    #[error(
        "“{0}” is not a key: use Ctrl, Alt, Shift or Super and a letter, digit, F1–F24 or Space"
    )]
    UnknownKey(String),
    /// No key after the modifiers, or two keys.
    #[error("a shortcut is modifiers and exactly one key, like Ctrl+Alt+T")]
    OneKey,
    /// No modifier that keeps ordinary typing from triggering it.
    #[error("a shortcut needs Ctrl, Alt or Super, so that ordinary typing does not trigger it")]
    NeedsModifier,
}

impl FromStr for Shortcut {
    type Err = ShortcutError;

    /// Reads "Ctrl+Alt+T" (any case, spaces around `+` allowed; Control, Meta, Win and Logo
    /// also name modifiers).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut shortcut =
            Self { ctrl: false, alt: false, shift: false, super_key: false, key: Key::Space };
        let mut key = None;
        for part in text.split('+').map(str::trim) {
            match part.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => shortcut.ctrl = true,
                "alt" => shortcut.alt = true,
                "shift" => shortcut.shift = true,
                "super" | "meta" | "win" | "logo" => shortcut.super_key = true,
                "" => return Err(ShortcutError::OneKey),
                name => {
                    if key.is_some() {
                        return Err(ShortcutError::OneKey);
                    }
                    key = Some(
                        parse_key(name)
                            .ok_or_else(|| ShortcutError::UnknownKey(part.to_owned()))?,
                    );
                }
            }
        }
        shortcut.key = key.ok_or(ShortcutError::OneKey)?;
        if !(shortcut.ctrl || shortcut.alt || shortcut.super_key) {
            return Err(ShortcutError::NeedsModifier);
        }
        Ok(shortcut)
    }
}

fn parse_key(name: &str) -> Option<Key> {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphanumeric() => Some(Key::Char(c.to_ascii_uppercase())),
        // "spatie": Dutch users write the key as their keyboard names it.
        _ if name == "space" || name == "spatie" => Some(Key::Space),
        (Some('f'), Some(_)) => name[1..].parse().ok().filter(|n| (1..=24).contains(n)).map(Key::F),
        _ => None,
    }
}

impl fmt::Display for Shortcut {
    /// Writes "Ctrl+Alt+T": modifiers in a fixed order, then the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, name) in [
            (self.ctrl, "Ctrl+"),
            (self.alt, "Alt+"),
            (self.shift, "Shift+"),
            (self.super_key, "Super+"),
        ] {
            if on {
                f.write_str(name)?;
            }
        }
        match self.key {
            Key::Char(c) => write!(f, "{c}"),
            Key::F(n) => write!(f, "F{n}"),
            Key::Space => f.write_str("Space"),
        }
    }
}

impl Shortcut {
    /// The trigger as the XDG "shortcuts" specification writes it for the portal
    /// ("CTRL+ALT+t": modifiers in capitals, the key as its XKB keysym name).
    pub fn portal_trigger(&self) -> String {
        let mut trigger = String::new();
        for (on, name) in [
            (self.ctrl, "CTRL+"),
            (self.alt, "ALT+"),
            (self.shift, "SHIFT+"),
            (self.super_key, "LOGO+"),
        ] {
            if on {
                trigger.push_str(name);
            }
        }
        match self.key {
            Key::Char(c) => trigger.push(c.to_ascii_lowercase()),
            Key::F(n) => trigger.push_str(&format!("F{n}")),
            Key::Space => trigger.push_str("space"),
        }
        trigger
    }

    /// The key's X11 keysym (X11/keysymdef.h): Latin-1 letters and digits are their ASCII
    /// code (lower case for letters), F1 is 0xffbe and the rest follow.
    pub fn keysym(&self) -> u32 {
        match self.key {
            Key::Char(c) => u32::from(c.to_ascii_lowercase()),
            Key::F(n) => 0xffbe + u32::from(n) - 1,
            Key::Space => 0x20,
        }
    }
}

/// How the shortcut stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// None wanted.
    Off,
    /// Being set up (the portal may be asking the user).
    Pending,
    /// Active: these keys bring Tessera up (as the desktop describes them, for the portal).
    Bound(String),
    /// The portal accepted the shortcut but the desktop has not assigned keys to it.
    Unassigned,
    /// Another program holds these keys.
    Taken(String),
    /// The desktop offers no global shortcuts.
    Unsupported,
    /// Setting it up failed (the reason, in English).
    Failed(String),
}

/// What the shortcut's thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShortcutEvent {
    /// The keys were pressed; `time` is the key event's X11 timestamp (0 when unknown).
    Pressed {
        /// The X server's timestamp of the press.
        time: u32,
    },
    /// The binding changed (after [`GlobalShortcut::bind`], or the desktop changed it).
    Status(Binding),
}

/// Where shortcut events go (called on the shortcut's thread).
pub type OnShortcutEvent = std::sync::Arc<dyn Fn(ShortcutEvent) + Send + Sync>;

/// A global shortcut service.
pub trait GlobalShortcut {
    /// Binds `shortcut` (`None`: none), replacing the previous one; the outcome arrives as a
    /// [`ShortcutEvent::Status`].
    fn bind(&self, shortcut: Option<Shortcut>);
    /// Gives the app's (just shown) window the keyboard focus after a press at `time`.
    fn activate(&self, _time: u32) {}
}

/// No global shortcuts on this desktop: every binding reports [`Binding::Unsupported`].
pub struct NoShortcut(pub OnShortcutEvent);

impl GlobalShortcut for NoShortcut {
    fn bind(&self, shortcut: Option<Shortcut>) {
        (self.0)(ShortcutEvent::Status(match shortcut {
            None => Binding::Off,
            Some(_) => Binding::Unsupported,
        }));
    }
}

/// The session's mechanism: the portal in a Wayland session, a key grab on X11, none
/// elsewhere. Events go to `on_event`.
pub fn system(on_event: OnShortcutEvent) -> Box<dyn GlobalShortcut> {
    #[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
    {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let wayland = set("WAYLAND_DISPLAY")
            || std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t.eq_ignore_ascii_case("wayland"));
        if wayland {
            return Box::new(portal::PortalShortcut::start(on_event));
        }
        if set("DISPLAY") {
            return match x11::X11Shortcut::start(None, on_event.clone()) {
                Ok(grab) => Box::new(grab),
                Err(error) => Box::new(Broken(error, on_event)),
            };
        }
    }
    Box::new(NoShortcut(on_event))
}

/// A mechanism that could not start: every binding reports why.
struct Broken(String, OnShortcutEvent);

impl GlobalShortcut for Broken {
    fn bind(&self, shortcut: Option<Shortcut>) {
        (self.1)(ShortcutEvent::Status(match shortcut {
            None => Binding::Off,
            Some(_) => Binding::Failed(self.0.clone()),
        }));
    }
}

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub use x11::X11Shortcut;

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
mod x11 {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use x11rb::connection::Connection as _;
    use x11rb::errors::ReplyError;
    use x11rb::protocol::xproto::{
        AtomEnum, ClientMessageEvent, ConfigureWindowAux, ConnectionExt as _, EventMask, GrabMode,
        InputFocus, Keycode, MapState, Mapping, ModMask, StackMode, Window,
    };
    use x11rb::protocol::{ErrorKind, Event};
    use x11rb::rust_connection::RustConnection;

    use super::{Binding, GlobalShortcut, OnShortcutEvent, Shortcut, ShortcutEvent};

    /// Caps Lock and Num Lock (Mod2 on nearly every keymap) change a press's modifier state;
    /// each combination is grabbed so the shortcut works whatever they are.
    const LOCKS: [u16; 4] = [0, 0x02, 0x10, 0x12];

    /// A grab on the root window.
    #[derive(Clone, Copy)]
    struct Grab {
        keycode: Keycode,
        modifiers: u16,
    }

    struct Shared {
        conn: RustConnection,
        root: Window,
        /// The shortcut wanted and its grab (none when not grabbed).
        current: Mutex<(Option<Shortcut>, Option<Grab>)>,
        on_event: OnShortcutEvent,
    }

    /// The X11 key grab and the thread that hears it.
    pub struct X11Shortcut {
        shared: Arc<Shared>,
    }

    impl X11Shortcut {
        /// Connects to `display` (`None`: `$DISPLAY`) and starts listening; no keys are
        /// grabbed until [`GlobalShortcut::bind`].
        pub fn start(display: Option<&str>, on_event: OnShortcutEvent) -> Result<Self, String> {
            let (conn, screen) = x11rb::connect(display)
                .map_err(|error| format!("cannot connect to the X server: {error}"))?;
            let root = conn.setup().roots[screen].root;
            let shared =
                Arc::new(Shared { conn, root, current: Mutex::new((None, None)), on_event });
            let listener = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("tessera-shortcut".into())
                .spawn(move || listener.listen())
                .map_err(|error| format!("cannot start a thread: {error}"))?;
            Ok(Self { shared })
        }
    }

    impl GlobalShortcut for X11Shortcut {
        fn bind(&self, shortcut: Option<Shortcut>) {
            let binding = self.shared.grab(shortcut);
            (self.shared.on_event)(ShortcutEvent::Status(binding));
        }

        fn activate(&self, time: u32) {
            let shared = Arc::clone(&self.shared);
            // The window is being mapped by Slint's own connection: wait for it off the UI
            // thread.
            let _ = std::thread::Builder::new()
                .name("tessera-activate".into())
                .spawn(move || shared.focus_our_window(time));
        }
    }

    impl Shared {
        fn listen(&self) {
            loop {
                match self.conn.wait_for_event() {
                    Ok(Event::KeyPress(press)) => {
                        let grab = self.current.lock().ok().and_then(|c| c.1);
                        let state = u16::from(press.state) & 0xff & !0x12;
                        if grab.is_some_and(|g| g.keycode == press.detail && g.modifiers == state) {
                            (self.on_event)(ShortcutEvent::Pressed { time: press.time });
                        }
                    }
                    // The keyboard mapping changed (another layout; xdotool does it too): the key
                    // may have moved. Grabbed again; told only if that failed.
                    Ok(Event::MappingNotify(notify)) if notify.request != Mapping::POINTER => {
                        let wanted = self.current.lock().ok().and_then(|c| c.0);
                        if wanted.is_some() {
                            let binding = self.grab(wanted);
                            if !matches!(binding, Binding::Bound(_)) {
                                (self.on_event)(ShortcutEvent::Status(binding));
                            }
                        }
                    }
                    Ok(_) => {}
                    // The connection is gone (the X server ended).
                    Err(_) => return,
                }
            }
        }

        /// Releases the current grab and grabs `shortcut`.
        fn grab(&self, shortcut: Option<Shortcut>) -> Binding {
            let Ok(mut current) = self.current.lock() else {
                return Binding::Failed("the shortcut's state is unusable".to_owned());
            };
            if let Some(old) = current.1.take() {
                self.ungrab(old);
            }
            current.0 = shortcut;
            let Some(shortcut) = shortcut else { return Binding::Off };
            let Some(keycode) = self.keycode(shortcut.keysym()) else {
                return Binding::Failed(format!("no key on this keyboard makes {shortcut}"));
            };
            let modifiers = modifiers(&shortcut);
            let grab = Grab { keycode, modifiers };
            let mut taken = false;
            for lock in LOCKS {
                let checked = self
                    .conn
                    .grab_key(
                        false,
                        self.root,
                        ModMask::from(modifiers | lock),
                        keycode,
                        GrabMode::ASYNC,
                        GrabMode::ASYNC,
                    )
                    .map_err(ReplyError::from)
                    .and_then(|cookie| cookie.check());
                match checked {
                    Ok(()) => {}
                    Err(ReplyError::X11Error(error)) if error.error_kind == ErrorKind::Access => {
                        taken = true;
                    }
                    Err(error) => {
                        self.ungrab(grab);
                        return Binding::Failed(format!("the X server refused the grab: {error}"));
                    }
                }
            }
            if taken {
                self.ungrab(grab);
                return Binding::Taken(shortcut.to_string());
            }
            current.1 = Some(grab);
            Binding::Bound(shortcut.to_string())
        }

        fn ungrab(&self, grab: Grab) {
            for lock in LOCKS {
                // Ungrabbing what is not ours (a combination that was refused) does nothing.
                let _ = self.conn.ungrab_key(
                    grab.keycode,
                    self.root,
                    ModMask::from(grab.modifiers | lock),
                );
            }
            let _ = self.conn.flush();
        }

        /// The keycode whose keysyms include `keysym`.
        fn keycode(&self, keysym: u32) -> Option<Keycode> {
            let setup = self.conn.setup();
            let (min, max) = (setup.min_keycode, setup.max_keycode);
            let map = self.conn.get_keyboard_mapping(min, max - min + 1).ok()?.reply().ok()?;
            let per = usize::from(map.keysyms_per_keycode).max(1);
            map.keysyms
                .chunks(per)
                .position(|syms| syms.contains(&keysym))
                .and_then(|index| u8::try_from(index).ok().and_then(|i| min.checked_add(i)))
        }

        /// Waits (up to 2 s) for a mapped top-level window of this process and gives it the
        /// keyboard focus.
        fn focus_our_window(&self, time: u32) {
            for _ in 0..40 {
                if let Some(window) = self.our_window() {
                    if self.window_manager() {
                        self.ask_window_manager(window, time);
                    } else {
                        // No window manager: nobody else moves the focus.
                        let _ = self.conn.configure_window(
                            window,
                            &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
                        );
                        let _ = self.conn.set_input_focus(InputFocus::PARENT, window, 0u32);
                    }
                    let _ = self.conn.flush();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        fn atom(&self, name: &str) -> Option<u32> {
            Some(self.conn.intern_atom(false, name.as_bytes()).ok()?.reply().ok()?.atom)
        }

        /// The 32-bit values of `property` on `window`.
        fn cardinals(&self, window: Window, property: u32, kind: AtomEnum) -> Vec<u32> {
            self.conn
                .get_property(false, window, property, kind, 0, 4096)
                .ok()
                .and_then(|cookie| cookie.reply().ok())
                .and_then(|reply| reply.value32().map(Iterator::collect))
                .unwrap_or_default()
        }

        /// Whether an EWMH window manager runs (it sets `_NET_SUPPORTING_WM_CHECK`).
        fn window_manager(&self) -> bool {
            self.atom("_NET_SUPPORTING_WM_CHECK")
                .is_some_and(|check| !self.cardinals(self.root, check, AtomEnum::WINDOW).is_empty())
        }

        /// A viewable top-level window whose `_NET_WM_PID` (set by winit) is this process:
        /// from the window manager's client list, else the root's children.
        fn our_window(&self) -> Option<Window> {
            let pid_atom = self.atom("_NET_WM_PID")?;
            let mut candidates = self
                .atom("_NET_CLIENT_LIST")
                .map(|list| self.cardinals(self.root, list, AtomEnum::WINDOW))
                .unwrap_or_default();
            if let Ok(tree) = self.conn.query_tree(self.root).map(|c| c.reply()) {
                candidates.extend(tree.map(|t| t.children).unwrap_or_default());
            }
            let pid = std::process::id();
            candidates.into_iter().find(|&window| {
                self.cardinals(window, pid_atom, AtomEnum::CARDINAL).first() == Some(&pid)
                    && self
                        .conn
                        .get_window_attributes(window)
                        .ok()
                        .and_then(|c| c.reply().ok())
                        .is_some_and(|a| a.map_state == MapState::VIEWABLE)
            })
        }

        /// EWMH activation: the window manager decides, knowing the request follows the
        /// user's key press at `time` (source 1: an application).
        fn ask_window_manager(&self, window: Window, time: u32) {
            let Some(active) = self.atom("_NET_ACTIVE_WINDOW") else { return };
            let message = ClientMessageEvent::new(32, window, active, [1, time, 0, 0, 0]);
            let mask = EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY;
            let _ = self.conn.send_event(false, self.root, mask, message);
        }
    }

    /// The X11 modifier mask of `shortcut` (Alt is Mod1, Super Mod4 on common keymaps).
    fn modifiers(shortcut: &Shortcut) -> u16 {
        let mut mask = 0;
        for (on, bit) in [
            (shortcut.shift, u16::from(ModMask::SHIFT)),
            (shortcut.ctrl, u16::from(ModMask::CONTROL)),
            (shortcut.alt, u16::from(ModMask::M1)),
            (shortcut.super_key, u16::from(ModMask::M4)),
        ] {
            if on {
                mask |= bit;
            }
        }
        mask
    }
}

#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
mod portal {
    use ashpd::desktop::global_shortcuts::{GlobalShortcuts, NewShortcut};
    use ashpd::desktop::{CreateSessionOptions, Session};
    use futures_lite::StreamExt as _;

    use super::{Binding, GlobalShortcut, OnShortcutEvent, Shortcut, ShortcutEvent};

    /// The shortcut's id in the portal session.
    const ID: &str = "show";

    /// The portal's GlobalShortcuts on a thread of its own running the async-io executor.
    pub(super) struct PortalShortcut {
        commands: futures_channel::mpsc::UnboundedSender<Option<Shortcut>>,
    }

    impl PortalShortcut {
        pub(super) fn start(on_event: OnShortcutEvent) -> Self {
            let (commands, received) = futures_channel::mpsc::unbounded();
            let reporter = on_event.clone();
            let spawned = std::thread::Builder::new()
                .name("tessera-portal-shortcut".into())
                .spawn(move || async_io::block_on(run(received, on_event)));
            if let Err(error) = spawned {
                // The receiver went with the closure: binds are never heard; say why once.
                reporter(ShortcutEvent::Status(Binding::Failed(format!(
                    "cannot start a thread: {error}"
                ))));
            }
            Self { commands }
        }
    }

    impl GlobalShortcut for PortalShortcut {
        fn bind(&self, shortcut: Option<Shortcut>) {
            // Fails only when the portal thread has ended (it reported why).
            let _ = self.commands.unbounded_send(shortcut);
        }
    }

    /// What the portal thread waits for.
    enum Input {
        Bind(Option<Shortcut>),
        Activated(ashpd::desktop::global_shortcuts::Activated),
    }

    async fn run(
        mut commands: futures_channel::mpsc::UnboundedReceiver<Option<Shortcut>>,
        on_event: OnShortcutEvent,
    ) {
        // A host (not sandboxed) app names itself to the portal before its first call;
        // portals older than 1.19 have no registry, which is fine.
        if let Ok(app_id) = ashpd::AppID::try_from(crate::platform::APP_ID) {
            let _ = ashpd::register_host_app(app_id).await;
        }
        let portal = match GlobalShortcuts::new().await {
            Ok(portal) => portal,
            Err(error) => {
                let binding = unavailable(&error);
                while let Some(wanted) = commands.next().await {
                    let status = if wanted.is_some() { binding.clone() } else { Binding::Off };
                    on_event(ShortcutEvent::Status(status));
                }
                return;
            }
        };
        let activated = match portal.receive_activated().await {
            Ok(stream) => stream,
            Err(error) => {
                on_event(ShortcutEvent::Status(unavailable(&error)));
                return;
            }
        };
        let mut activated = std::pin::pin!(activated);
        let mut session: Option<Session<GlobalShortcuts>> = None;
        loop {
            let input =
                futures_lite::future::or(async { commands.next().await.map(Input::Bind) }, async {
                    activated.next().await.map(Input::Activated)
                })
                .await;
            match input {
                None => return,
                // The portal sends a session's signals to its owner only, and this thread
                // holds at most one session at a time.
                Some(Input::Activated(activation)) => {
                    if session.is_some() && activation.shortcut_id() == ID {
                        on_event(ShortcutEvent::Pressed { time: 0 });
                    }
                }
                Some(Input::Bind(wanted)) => {
                    if let Some(old) = session.take() {
                        let _ = old.close().await;
                    }
                    let Some(shortcut) = wanted else {
                        on_event(ShortcutEvent::Status(Binding::Off));
                        continue;
                    };
                    on_event(ShortcutEvent::Status(Binding::Pending));
                    match bind(&portal, shortcut).await {
                        Ok((bound, binding)) => {
                            session = Some(bound);
                            on_event(ShortcutEvent::Status(binding));
                        }
                        Err(error) => on_event(ShortcutEvent::Status(unavailable(&error))),
                    }
                }
            }
        }
    }

    /// Opens a session and asks for the shortcut with `shortcut` as the preferred keys.
    async fn bind(
        portal: &GlobalShortcuts,
        shortcut: Shortcut,
    ) -> Result<(Session<GlobalShortcuts>, Binding), ashpd::Error> {
        let session = portal.create_session(CreateSessionOptions::default()).await?;
        let trigger = shortcut.portal_trigger();
        let wanted = [NewShortcut::new(ID, "Show Tessera with the search ready")
            .preferred_trigger(trigger.as_str())];
        let response =
            portal.bind_shortcuts(&session, &wanted, None, Default::default()).await?.response()?;
        let keys = response
            .shortcuts()
            .iter()
            .find(|s| s.id() == ID)
            .map(|s| s.trigger_description().trim().to_owned())
            .unwrap_or_default();
        let binding = if keys.is_empty() { Binding::Unassigned } else { Binding::Bound(keys) };
        Ok((session, binding))
    }

    /// A portal error as a binding: no portal or no such interface means the desktop offers
    /// no global shortcuts; a refusal by the user leaves none assigned.
    fn unavailable(error: &ashpd::Error) -> Binding {
        use ashpd::PortalError;
        use ashpd::desktop::ResponseError;
        let missing = |e: &zbus::Error| {
            matches!(e, zbus::Error::MethodError(name, _, _) if matches!(
                name.as_str(),
                "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.UnknownInterface"
                    | "org.freedesktop.DBus.Error.UnknownMethod"
                    | "org.freedesktop.DBus.Error.UnknownObject"
            ))
        };
        match error {
            ashpd::Error::PortalNotFound(_) => Binding::Unsupported,
            ashpd::Error::Zbus(e) | ashpd::Error::Portal(PortalError::ZBus(e)) if missing(e) => {
                Binding::Unsupported
            }
            ashpd::Error::Response(ResponseError::Cancelled) => Binding::Unassigned,
            other => Binding::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_read_in_any_case_and_written_one_way() {
        let read: Shortcut = " ctrl + alt + t ".parse().unwrap();
        assert_eq!(read.to_string(), "Ctrl+Alt+T");
        assert_eq!(read.portal_trigger(), "CTRL+ALT+t");
        assert_eq!(read.keysym(), u32::from(b't'));
        let f9: Shortcut = "Super+Shift+F9".parse().unwrap();
        assert_eq!(f9.to_string(), "Shift+Super+F9");
        assert_eq!(f9.portal_trigger(), "SHIFT+LOGO+F9");
        assert_eq!(f9.keysym(), 0xffc6, "XK_F9");
        let space: Shortcut = "Control+Space".parse().unwrap();
        assert_eq!((space.to_string().as_str(), space.keysym()), ("Ctrl+Space", 0x20));
        assert_eq!("Alt+7".parse::<Shortcut>().unwrap().keysym(), u32::from(b'7'));
    }

    #[test]
    fn what_is_not_a_shortcut_is_told_why() {
        assert_eq!("Shift+T".parse::<Shortcut>(), Err(ShortcutError::NeedsModifier));
        assert_eq!("T".parse::<Shortcut>(), Err(ShortcutError::NeedsModifier));
        assert_eq!("Ctrl+Alt".parse::<Shortcut>(), Err(ShortcutError::OneKey));
        assert_eq!("Ctrl+A+B".parse::<Shortcut>(), Err(ShortcutError::OneKey));
        assert_eq!("Ctrl++".parse::<Shortcut>(), Err(ShortcutError::OneKey));
        assert_eq!("".parse::<Shortcut>(), Err(ShortcutError::OneKey));
        assert_eq!("Ctrl+Tab".parse::<Shortcut>(), Err(ShortcutError::UnknownKey("Tab".into())));
        assert_eq!("Ctrl+F25".parse::<Shortcut>(), Err(ShortcutError::UnknownKey("F25".into())));
        assert_eq!("Ctrl+é".parse::<Shortcut>(), Err(ShortcutError::UnknownKey("é".into())));
    }
}
