//! Service icons in the real window: a known issuer's row shows its icon and an unknown one
//! its letter; the details screen picks another icon, the letter or an image; an Aegis icon
//! pack imported in settings gives matching rows their icon. Also the icons' screenshot.

use std::io::Write;
use std::time::Duration;

use i_slint_backend_testing::{ElementHandle, mock_elapsed_time};
use slint::ComponentHandle;
use tessera_core::icons::IconChoice;

use super::screenshots::{i_slint_core_platform_set, snapshot};
use super::{Harness, RFC_KEY, entry, start_on_current_backend, unlocked};

const ICON: &str = "Avatar::avatar-icon";
const LETTER: &str = "Avatar::avatar-letter";

/// What the avatar of the row labelled "Copy code for `row`" shows.
fn avatar(h: &Harness, row: &str) -> &'static str {
    let row: ElementHandle = h.one(&format!("Copy code for {row}"));
    let has = |id: &str| !row.query_descendants().match_id(id).find_all().is_empty();
    match (has(ICON), has(LETTER)) {
        (true, false) => "icon",
        (false, true) => "letter",
        other => panic!("the avatar shows {other:?}"),
    }
}

/// An Aegis icon pack (our own test pack, written here): one SVG for "Zoë Bank".
fn write_pack(path: &std::path::Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("pack.json", options).unwrap();
    zip.write_all(
        br#"{"uuid":"0b6f2c1d-8e4a-4f7b-9c3d-2a1e5f6b7c8d","name":"Tessera test pack",
             "version":1,"icons":[{"name":"Zoe Bank","filename":"banks/zoe.svg",
             "category":"Banks","issuer":["zoe bank"]}]}"#,
    )
    .unwrap();
    zip.start_file("banks/zoe.svg", options).unwrap();
    zip.write_all(
        br##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#2a9d8f"/><circle cx="5" cy="5" r="3" fill="#fff"/></svg>"##,
    )
    .unwrap();
    zip.finish().unwrap();
}

#[test]
fn a_known_issuer_shows_its_icon_and_an_unknown_one_its_letter() {
    let h = unlocked(vec![
        entry("GitHub", "ada", RFC_KEY),
        entry("Zoë Bank", "ada", "JBSWY3DPEHPK3PXP"),
        entry("proton MAIL", "ada", "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF"),
    ]);
    assert_eq!(avatar(&h, "GitHub ada"), "icon");
    assert_eq!(avatar(&h, "Zoë Bank ada"), "letter");
    assert_eq!(avatar(&h, "proton MAIL ada"), "icon", "case and spacing do not matter");
}

#[test]
fn the_details_screen_picks_another_icon_the_letter_or_an_image_and_saves_it() {
    let h = unlocked(vec![
        entry("GitHub", "ada", RFC_KEY),
        entry("Zoë Bank", "zoe", "JBSWY3DPEHPK3PXP"),
    ]);

    h.click("Details for GitHub, ada");
    assert!(h.exists("GitHub (matched from the issuer)"));
    h.click("Letter instead of an icon");
    assert!(h.exists("Letter (chosen)"));
    h.click("Save");
    assert_eq!(avatar(&h, "GitHub ada"), "letter");
    let github = h.entries().into_iter().find(|e| e.issuer == "GitHub").unwrap();
    assert_eq!(github.icon, Some(IconChoice::Letter));

    h.click("Details for Zoë Bank, zoe");
    assert!(h.exists("Letter (no icon for this issuer)"));
    h.type_into("Icon of another service", "no such service");
    assert!(h.exists("No icon is called “no such service”"));
    h.type_into("Icon of another service", "Mastodon");
    assert!(h.exists("Mastodon"));
    h.click("Back");
    assert_eq!(avatar(&h, "Zoë Bank zoe"), "letter", "Back drops the pick");

    h.click("Details for Zoë Bank, zoe");
    h.type_into("Icon of another service", "mastodon");
    h.click("Save");
    assert_eq!(avatar(&h, "Zoë Bank zoe"), "icon");
    let zoe = h.entries().into_iter().find(|e| e.issuer == "Zoë Bank").unwrap();
    assert_eq!(zoe.icon, Some(IconChoice::Builtin("mastodon".into())));

    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.png");
    image::RgbaImage::from_pixel(64, 64, image::Rgba([10, 120, 200, 255])).save(&logo).unwrap();
    h.click("Details for Zoë Bank, zoe");
    h.type_into("Image file for the icon (full path)", "/nonexistent/logo.png");
    h.click("Use image as icon");
    assert!(h.exists("Could not use the image: No such file or directory (os error 2)"));
    assert!(h.exists("Mastodon"), "a missing file changes nothing");
    h.type_into("Image file for the icon (full path)", logo.to_str().unwrap());
    h.click("Use image as icon");
    assert!(h.exists("Your own image"));
    h.click("Save");
    let zoe = h.entries().into_iter().find(|e| e.issuer == "Zoë Bank").unwrap();
    assert!(matches!(zoe.icon, Some(IconChoice::Image(ref png)) if png.starts_with(b"\x89PNG")));
    assert_eq!(avatar(&h, "Zoë Bank zoe"), "icon");
}

#[test]
fn an_icon_pack_imported_in_settings_gives_matching_rows_their_icon() {
    let h = unlocked(vec![entry("Zoë Bank", "ada", RFC_KEY)]);
    assert_eq!(avatar(&h, "Zoë Bank ada"), "letter");
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack.zip");
    write_pack(&pack);
    std::fs::write(dir.path().join("broken.zip"), b"not a zip").unwrap();

    // Elements scrolled out of the window are not found by label: make settings fit.
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 2400.0));
    h.click("Settings");
    h.type_into("Icon pack file", dir.path().join("broken.zip").to_str().unwrap());
    h.click("Import icon pack");
    let adapter = h.app.window().global::<tessera::IconsAdapter>();
    assert_eq!(adapter.get_pack_outcome(), tessera::PackOutcome::Failed);
    assert!(adapter.get_pack_detail().starts_with("not a readable ZIP archive"));
    h.type_into("Icon pack file", pack.to_str().unwrap());
    h.click("Import icon pack");
    assert!(h.exists("Imported “Tessera test pack”: 1 icons"));
    h.click("Back");
    assert_eq!(avatar(&h, "Zoë Bank ada"), "icon", "the accented issuer matches the pack");
    let imported = h.home.path().join("icon-packs/0b6f2c1d-8e4a-4f7b-9c3d-2a1e5f6b7c8d");
    assert!(imported.join("banks/zoe.svg").exists());
}

/// The icons' screenshot (assets/screenshots/service-icons-light.png with
/// `TESSERA_SCREENSHOTS=dir`); without the variable it checks the image is not blank.
#[test]
fn screenshot_of_the_service_icons() {
    i_slint_core_platform_set();
    let entries = vec![
        entry("GitHub", "ada@example.org", RFC_KEY),
        entry("Google", "ada.lovelace@gmail.com", "JBSWY3DPEHPK3PXP"),
        entry("Mastodon", "@ada@example.social", "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF"),
        entry("Proton Mail", "ada@proton.example", "ONSWG4TFOQYTEMZUGU3DOOBZ"),
        entry("Bitwarden", "ada", "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"),
        entry("Zoë Bank", "ada", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA"),
    ];
    let h = start_on_current_backend(Some(entries), r#"{"language":"english","theme":"light"}"#);
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    h.clock.set(super::RFC_TIME - 10);
    h.app.tick();
    mock_elapsed_time(Duration::from_millis(50));
    assert_eq!(avatar(&h, "Zoë Bank ada"), "letter");
    assert_eq!(avatar(&h, "Bitwarden ada"), "icon");
    snapshot(&h, "service-icons-light");
}
