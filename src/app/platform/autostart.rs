//! "Start at login": an XDG autostart entry (`$XDG_CONFIG_HOME/autostart/<app id>.desktop`,
//! the Desktop Application Autostart Specification) that starts the running `tessera-gui`
//! with `--background`, so push requests reach the user from the first minute of a session.
//! The entry exists exactly while the setting is on; nothing else records the choice.
//!
//! Windows (a `Run` registry value) and macOS (a LaunchAgent) are not implemented: there the
//! setting is not offered (untested here).

use std::io;
use std::path::{Path, PathBuf};

/// The autostart entry of this user.
#[derive(Debug, Clone)]
pub struct Autostart {
    entry: Option<PathBuf>,
}

impl Autostart {
    /// The entry in the user's configuration folder (none where the platform has no XDG
    /// autostart).
    pub fn system() -> Self {
        let entry = cfg!(all(unix, not(target_os = "android"), not(target_os = "macos")))
            .then(dirs::config_dir)
            .flatten()
            .map(|config| {
                config.join("autostart").join(format!("{}.desktop", crate::platform::APP_ID))
            });
        Self { entry }
    }

    /// The entry at `path` (tests).
    pub fn at(path: PathBuf) -> Self {
        Self { entry: Some(path) }
    }

    /// Whether "Start at login" can be offered here.
    pub fn is_available(&self) -> bool {
        self.entry.is_some()
    }

    /// Whether Tessera starts at login.
    pub fn is_on(&self) -> bool {
        self.entry.as_deref().is_some_and(Path::exists)
    }

    /// Writes the entry starting `program --background`, or removes it.
    pub fn set(&self, on: bool, program: &Path) -> io::Result<()> {
        let Some(entry) = &self.entry else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "no autostart folder"));
        };
        if !on {
            return match std::fs::remove_file(entry) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            };
        }
        if let Some(folder) = entry.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(entry, desktop_entry(program))
    }
}

/// The entry's text. `Exec` quotes the program as the Desktop Entry Specification asks
/// (double quotes; `"`, `` ` ``, `$` and `\` escaped with a backslash).
fn desktop_entry(program: &Path) -> String {
    let mut quoted = String::from("\"");
    for c in program.to_string_lossy().chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    format!(
        "[Desktop Entry]\nType=Application\nName=Tessera\n\
         Comment=Receive login requests in the background\n\
         Exec={quoted} --background\nIcon={id}\nTerminal=false\n\
         X-GNOME-Autostart-enabled=true\n",
        id = crate::platform::APP_ID
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_exists_exactly_while_the_setting_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let autostart =
            Autostart::at(dir.path().join("autostart/io.github.tessera.Tessera.desktop"));
        assert!(autostart.is_available() && !autostart.is_on());
        autostart.set(false, Path::new("/usr/bin/tessera-gui")).unwrap();
        autostart.set(true, Path::new("/opt/My Apps/tessera-gui")).unwrap();
        assert!(autostart.is_on());
        let text =
            std::fs::read_to_string(dir.path().join("autostart/io.github.tessera.Tessera.desktop"))
                .unwrap();
        assert!(text.starts_with("[Desktop Entry]\nType=Application\n"), "{text}");
        assert!(text.contains("\nExec=\"/opt/My Apps/tessera-gui\" --background\n"), "{text}");
        let checked = std::process::Command::new("desktop-file-validate")
            .arg(dir.path().join("autostart/io.github.tessera.Tessera.desktop"))
            .output()
            .expect("desktop-file-validate (apt-get install -y desktop-file-utils)");
        assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stdout));
        autostart.set(false, Path::new("/opt/My Apps/tessera-gui")).unwrap();
        assert!(!autostart.is_on());
    }

    #[test]
    fn exec_escapes_what_the_specification_reserves() {
        let text = desktop_entry(Path::new("/home/a$b/\"x\"/tessera-gui"));
        assert!(text.contains("Exec=\"/home/a\\$b/\\\"x\\\"/tessera-gui\" --background"), "{text}");
    }
}
