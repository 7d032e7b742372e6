//! Aegis icon packs: importing the `.zip`, and reading the packs imported before.
//!
//! The format is Aegis' (documented in Aegis' `docs/iconpacks.md`): a ZIP archive holding a
//! `pack.json` and the icon files it names:
//!
//! ```json
//! { "uuid": "<uuid, the same across versions>", "name": "…", "version": 1,
//!   "icons": [ { "name": "…", "filename": "dir/File.svg", "category": "…",
//!                "issuer": [ "names", "to match" ] } ] }
//! ```
//!
//! Icons are SVG, PNG or JPEG. Files the list does not name are not extracted. Importing
//! writes the pack to `<packs dir>/<uuid>/` (its `pack.json` and the named files), replacing
//! an older version of the same pack only once the new one is complete. An archive is
//! untrusted input: the uuid must be a uuid, every file name a plain relative path with a
//! known extension (no `..`, no absolute or drive paths, no backslashes), and sizes are
//! capped ([`MAX_ICON_BYTES`], [`MAX_PACK_BYTES`], [`MAX_ICONS`]) whatever the archive
//! claims; a pack breaking any rule is refused whole and nothing is written.

use std::io::{Read, Seek};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Catalogue, IconChoice};

/// The largest icon file accepted.
pub const MAX_ICON_BYTES: u64 = 2 * 1024 * 1024;
/// The most bytes one pack may extract (`pack.json` and icons).
pub const MAX_PACK_BYTES: u64 = 128 * 1024 * 1024;
/// The most icons one pack may list.
pub const MAX_ICONS: usize = 20_000;
/// The name of the definition inside the archive and in the imported folder.
pub const PACK_JSON: &str = "pack.json";

/// A pack's definition (`pack.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IconPack {
    /// Random once, the same across the pack's versions (lower case once imported).
    pub uuid: String,
    /// The pack's name.
    pub name: String,
    /// Grows with each release of the pack.
    pub version: u64,
    /// The icons.
    pub icons: Vec<PackIcon>,
}

/// One icon of a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackIcon {
    /// Its name, if the pack gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The file, relative to the archive's root.
    pub filename: String,
    /// A grouping ("Services", "Gaming").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Issuer names this icon is chosen for.
    #[serde(default)]
    pub issuer: Vec<String>,
}

impl IconPack {
    /// Adds this pack's icons to `catalogue` under their issuer names and names.
    pub fn add_to(&self, catalogue: &mut Catalogue) {
        for icon in &self.icons {
            let choice = IconChoice::Pack { pack: self.uuid.clone(), file: icon.filename.clone() };
            let names = icon.issuer.iter().map(String::as_str).chain(icon.name.as_deref());
            catalogue.add(names, &choice);
        }
    }
}

/// Why a pack cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Not a ZIP archive, or a damaged one.
    #[error("not a readable ZIP archive: {0}")]
    Archive(String),
    /// The archive has no `pack.json`.
    #[error("the archive has no pack.json: is this an Aegis icon pack?")]
    NoDefinition,
    /// `pack.json` is not a pack definition.
    #[error("pack.json is not a valid icon pack definition: {0}")]
    BadDefinition(String),
    /// The pack's uuid is not a uuid.
    #[error("the pack's uuid “{0}” is not a uuid")]
    BadUuid(String),
    /// A file name that could point outside the pack, or of an unknown format.
    #[error("the pack names a file Tessera will not extract: “{0}” ({1})")]
    BadFileName(String, &'static str),
    /// A listed file is not in the archive.
    #[error("pack.json lists “{0}”, which is not in the archive")]
    MissingFile(String),
    /// Over a size or count cap.
    #[error("the pack is too large: {0}")]
    TooLarge(String),
    /// Writing the imported pack failed.
    #[error("could not write the icon pack: {0}")]
    Io(#[from] std::io::Error),
}

/// Imports the pack in the ZIP archive `archive` into `packs_dir/<uuid>/`, replacing an
/// older import of the same pack; returns its definition. On error nothing is left behind.
pub fn import(archive: impl Read + Seek, packs_dir: &Path) -> Result<IconPack, PackError> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| PackError::Archive(e.to_string()))?;
    let definition = read_capped(&mut zip, PACK_JSON, MAX_ICON_BYTES)?;
    let mut pack: IconPack =
        serde_json::from_slice(&definition).map_err(|e| PackError::BadDefinition(e.to_string()))?;
    check(&mut pack)?;

    std::fs::create_dir_all(packs_dir)?;
    let partial = packs_dir.join(format!(".{}.partial", pack.uuid));
    let _ = std::fs::remove_dir_all(&partial);
    let written = extract(&mut zip, &pack, &partial).and_then(|()| {
        let target = packs_dir.join(&pack.uuid);
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::rename(&partial, &target)?;
        Ok(())
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    written.map(|()| pack)
}

/// Returns the packs imported into `packs_dir`, sorted by name; folders that are not a
/// complete import are skipped.
pub fn load_all(packs_dir: &Path) -> Vec<IconPack> {
    let Ok(dirs) = std::fs::read_dir(packs_dir) else { return Vec::new() };
    let mut packs: Vec<IconPack> = dirs
        .filter_map(Result::ok)
        .filter(|d| !d.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|d| std::fs::read(d.path().join(PACK_JSON)).ok())
        .filter_map(|bytes| serde_json::from_slice::<IconPack>(&bytes).ok())
        .filter_map(|mut pack| check(&mut pack).ok().map(|()| pack))
        .collect();
    packs.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.uuid.cmp(&b.uuid)));
    packs
}

/// Returns the path of an imported pack's icon file, if the names are safe ones.
pub fn icon_path(packs_dir: &Path, pack: &str, file: &str) -> Option<PathBuf> {
    let uuid = uuid::Uuid::try_parse(pack).ok()?.hyphenated().to_string();
    (uuid == pack && safe_relative(file).is_ok()).then(|| packs_dir.join(uuid).join(file))
}

/// Checks a definition read from an archive or an import folder (lower-cases the uuid).
fn check(pack: &mut IconPack) -> Result<(), PackError> {
    let uuid = uuid::Uuid::try_parse(pack.uuid.trim())
        .map_err(|_| PackError::BadUuid(pack.uuid.chars().take(64).collect()))?;
    pack.uuid = uuid.hyphenated().to_string();
    if pack.icons.len() > MAX_ICONS {
        return Err(PackError::TooLarge(format!(
            "{} icons (at most {MAX_ICONS})",
            pack.icons.len()
        )));
    }
    for icon in &pack.icons {
        safe_relative(&icon.filename).map_err(|why| {
            PackError::BadFileName(icon.filename.chars().take(200).collect(), why)
        })?;
    }
    Ok(())
}

/// Accepts a plain relative path to an SVG, PNG or JPEG file.
fn safe_relative(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.contains('\\') || name.contains('\0') || name.contains(':') {
        return Err("not a plain relative path");
    }
    let path = Path::new(name);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("not a plain relative path");
    }
    if name.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
        return Err("empty or hidden path part");
    }
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg" | "png" | "jpg" | "jpeg") => Ok(()),
        _ => Err("not an SVG, PNG or JPEG file"),
    }
}

/// Writes `pack.json` and the listed files into `dir`.
fn extract<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    pack: &IconPack,
    dir: &Path,
) -> Result<(), PackError> {
    std::fs::create_dir_all(dir)?;
    let mut total = 0u64;
    for icon in &pack.icons {
        let target = dir.join(&icon.filename);
        if target.exists() {
            continue; // two icons sharing one file
        }
        let bytes = read_capped(zip, &icon.filename, MAX_ICON_BYTES)?;
        total += bytes.len() as u64;
        if total > MAX_PACK_BYTES {
            return Err(PackError::TooLarge(format!("over {MAX_PACK_BYTES} bytes of icons")));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    let definition = serde_json::to_vec_pretty(pack).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(PACK_JSON), definition)?;
    Ok(())
}

/// Reads one member, refusing more than `cap` bytes whatever its header says.
fn read_capped<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    cap: u64,
) -> Result<Vec<u8>, PackError> {
    let file = match zip.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) if name == PACK_JSON => {
            return Err(PackError::NoDefinition);
        }
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(PackError::MissingFile(name.to_owned()));
        }
        Err(e) => return Err(PackError::Archive(e.to_string())),
    };
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| PackError::Archive(format!("{name}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(PackError::TooLarge(format!("“{name}” is over {cap} bytes")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::icons::Hints;

    const UUID: &str = "5d0c7c1e-3b5f-4c2a-9d8e-0f1a2b3c4d5e";
    /// A 1×1 PNG is not needed: the importer copies bytes, the app decodes them.
    const SVG: &[u8] = b"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'/>";

    /// Returns a ZIP holding `pack.json` = `definition` and the given files.
    fn archive(definition: &str, files: &[(&str, &[u8])]) -> Cursor<Vec<u8>> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default();
        zip.start_file(PACK_JSON, options).unwrap();
        zip.write_all(definition.as_bytes()).unwrap();
        for (name, bytes) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        let mut cursor = zip.finish().unwrap();
        cursor.set_position(0);
        cursor
    }

    fn definition(uuid: &str, filename: &str) -> String {
        let filename = serde_json::to_string(filename).unwrap();
        format!(
            r#"{{"uuid":"{uuid}","name":"Test pack","version":2,"icons":[
              {{"name":"Zoë Bank","filename":{filename},"category":"Banks",
                "issuer":["zoe bank","zoebank.example"]}}]}}"#
        )
    }

    #[test]
    fn a_pack_is_imported_and_its_icons_match_issuers() {
        let dir = tempfile::tempdir().unwrap();
        let zip = archive(
            &definition(UUID, "banks/Zoe.svg"),
            &[("banks/Zoe.svg", SVG), ("unlisted.png", b"not extracted")],
        );
        let pack = import(zip, dir.path()).unwrap();
        assert_eq!((pack.name.as_str(), pack.version, pack.icons.len()), ("Test pack", 2, 1));
        let path = icon_path(dir.path(), UUID, "banks/Zoe.svg").unwrap();
        assert_eq!(std::fs::read(path).unwrap(), SVG);
        assert!(!dir.path().join(UUID).join("unlisted.png").exists());

        let packs = load_all(dir.path());
        assert_eq!(packs, vec![pack]);
        let mut catalogue = Catalogue::builtin();
        packs[0].add_to(&mut catalogue);
        let expected = IconChoice::Pack { pack: UUID.into(), file: "banks/Zoe.svg".into() };
        assert_eq!(catalogue.find(Hints { issuer: "Zoë Bank", image: None }), Some(expected));
    }

    #[test]
    fn a_new_version_replaces_the_old_import() {
        let dir = tempfile::tempdir().unwrap();
        import(archive(&definition(UUID, "a.svg"), &[("a.svg", SVG)]), dir.path()).unwrap();
        import(archive(&definition(UUID, "b.svg"), &[("b.svg", SVG)]), dir.path()).unwrap();
        assert!(!dir.path().join(UUID).join("a.svg").exists());
        assert!(dir.path().join(UUID).join("b.svg").exists());
        assert_eq!(load_all(dir.path()).len(), 1);
    }

    /// The attack: a pack whose names climb out of its folder (zip-slip) or whose uuid is a
    /// path. Each is refused and nothing is written anywhere.
    #[test]
    fn names_that_escape_the_pack_folder_are_refused_and_nothing_is_written() {
        let root = tempfile::tempdir().unwrap();
        let packs = root.path().join("packs");
        for (uuid, file) in [
            (UUID, "../../evil.svg"),
            (UUID, "/tmp/evil.svg"),
            (UUID, "a/../../evil.svg"),
            (UUID, "..\\evil.svg"),
            (UUID, "C:evil.svg"),
            (UUID, "evil.sh"),
            ("../../evil", "ok.svg"),
        ] {
            let zip = archive(&definition(uuid, file), &[(file, SVG)]);
            let error = import(zip, &packs).unwrap_err();
            assert!(
                matches!(error, PackError::BadFileName(..) | PackError::BadUuid(_)),
                "{uuid} {file}: {error}"
            );
        }
        assert!(!root.path().join("evil.svg").exists());
        assert_eq!(std::fs::read_dir(&packs).map(|d| d.count()).unwrap_or(0), 0);
        assert!(icon_path(&packs, UUID, "../x.svg").is_none());
        assert!(icon_path(&packs, "../x", "x.svg").is_none());
    }

    #[test]
    fn broken_packs_get_a_specific_error() {
        let dir = tempfile::tempdir().unwrap();
        let not_zip = Cursor::new(b"PK? not really".to_vec());
        assert!(matches!(import(not_zip, dir.path()), Err(PackError::Archive(_))));
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("icon.svg", SimpleFileOptions::default()).unwrap();
        let mut no_json = zip.finish().unwrap();
        no_json.set_position(0);
        assert!(matches!(import(no_json, dir.path()), Err(PackError::NoDefinition)));
        let bad_json = archive("{\"name\": 3}", &[]);
        assert!(matches!(import(bad_json, dir.path()), Err(PackError::BadDefinition(_))));
        let missing = archive(&definition(UUID, "gone.svg"), &[]);
        let error = import(missing, dir.path()).unwrap_err();
        assert!(matches!(&error, PackError::MissingFile(f) if f == "gone.svg"), "{error}");
        let big = vec![b' '; MAX_ICON_BYTES as usize + 1];
        let huge = archive(&definition(UUID, "big.svg"), &[("big.svg", &big)]);
        assert!(matches!(import(huge, dir.path()), Err(PackError::TooLarge(_))));
        assert!(load_all(dir.path()).is_empty(), "no failed import left a pack behind");
    }
}
