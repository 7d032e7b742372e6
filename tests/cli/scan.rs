//! `tessera scan`: image files (one or several codes each, Google exports), the screen under
//! Xvfb, the clipboard's failure path, and what is printed, described or added.
// Test helpers (image rendering, Xvfb) fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use image::GrayImage;
use tessera_core::qr::encode;
use tessera_core::uri::{OtpUri, encode_migration};

use super::{CODE_AT_1E9, KEY};
use crate::common::{Home, to_run};

/// Renders codes side by side on one white image.
pub(crate) fn codes_image(texts: &[&str]) -> GrayImage {
    let frames: Vec<_> = texts.iter().map(|t| encode(t).unwrap().to_luma(4, 4)).collect();
    let w = frames.iter().map(|f| f.width()).sum::<u32>();
    let h = frames.iter().map(|f| f.height()).max().unwrap();
    let mut image = GrayImage::from_pixel(w, h, image::Luma([255]));
    let mut x0 = 0;
    for f in &frames {
        let code = GrayImage::from_raw(f.width(), f.height(), f.pixels().to_vec()).unwrap();
        image::imageops::overlay(&mut image, &code, i64::from(x0), 0);
        x0 += f.width();
    }
    image
}

pub(crate) fn save(home: &Home, name: &str, texts: &[&str]) -> PathBuf {
    let path = home.dir.path().join(name);
    codes_image(texts).save(&path).unwrap();
    path
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

const VISMA: &str = "otpauth://totp/Visma:me@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Visma";

#[test]
fn scan_print_prints_every_payload_of_every_image_in_order() {
    let home = Home::new();
    let a = save(&home, "a.png", &[VISMA, "https://example.com/x"]);
    let b = save(&home, "b.jpg", &["WIFI:S:home;T:WPA;P:secret;;"]);
    let out = home.ok(&["scan", "--print", arg(&a), arg(&b)]);
    let mut first: Vec<&str> = out.lines().take(2).collect();
    first.sort_unstable();
    assert_eq!(first, ["https://example.com/x", VISMA]);
    assert_eq!(out.lines().nth(2), Some("WIFI:S:home;T:WPA;P:secret;;"));
    assert_eq!(out.lines().count(), 3);
    assert!(!home.vault().exists(), "printing must not create a vault");
}

#[test]
fn scan_add_adds_the_account_and_its_codes_work() {
    let home = Home::new();
    let img = save(&home, "visma.png", &[VISMA]);
    let out = home.ok(&["scan", "--add", arg(&img)]);
    assert!(out.contains("added Visma (me@example.com)"), "{out}");
    assert_eq!(home.ok(&["code", "visma", "--at", "1000000000"]).trim(), CODE_AT_1E9);
    // Scanning the same code again adds nothing.
    let again = home.ok(&["scan", "--add", arg(&img)]);
    assert!(again.contains("already present Visma (me@example.com)"), "{again}");
    assert_eq!(home.ok(&["list", "--json"]).matches("\"issuer\"").count(), 1);
}

#[test]
fn scan_add_takes_every_account_of_a_google_export_shown_as_several_codes() {
    let accounts: Vec<OtpUri> = (0..12)
        .map(|i| {
            OtpUri::parse(&format!("otpauth://totp/Svc{i}:user{i}@example.com?secret={KEY}"))
                .unwrap()
        })
        .collect();
    let (batches, skipped) = encode_migration(&accounts);
    assert!(skipped.is_empty());
    assert!(batches.len() >= 2, "12 accounts should need several codes");
    let home = Home::new();
    let texts: Vec<&str> = batches.iter().map(|b| b.as_str()).collect();
    let img = save(&home, "export.png", &texts);
    let out = home.ok(&["scan", "--add", arg(&img)]);
    assert_eq!(out.matches("added ").count(), 12, "{out}");
    assert_eq!(home.ok(&["code", "svc11", "--at", "1000000000"]).trim(), CODE_AT_1E9);
}

#[test]
fn scan_without_flags_describes_codes_without_showing_secrets() {
    let home = Home::new();
    let img = save(&home, "mixed.png", &[VISMA, "https://example.com/welcome"]);
    let out = home.ok(&["scan", arg(&img)]);
    assert!(out.contains("account: Visma (me@example.com)"), "{out}");
    assert!(out.contains("web link"), "{out}");
    assert!(!out.contains(KEY), "the secret must not be printed: {out}");
}

#[test]
fn scan_of_an_image_without_a_code_fails_with_a_hint() {
    let home = Home::new();
    let path = home.dir.path().join("blank.png");
    GrayImage::from_pixel(200, 100, image::Luma([250])).save(&path).unwrap();
    let run = home.run(&["scan", "--print", arg(&path)]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no QR code found"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn scan_reports_an_unreadable_file_and_still_prints_the_others() {
    let home = Home::new();
    let good = save(&home, "good.png", &["hello"]);
    let missing = home.dir.path().join("missing.png");
    let run = home.run(&["scan", "--print", arg(&missing), arg(&good)]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "hello\n");
    assert!(run.stderr.contains("missing.png"), "{}", run.stderr);
}

#[test]
fn scan_clipboard_without_a_display_explains_the_failure() {
    let home = Home::new();
    let run = to_run(
        &home
            .command()
            .args(["scan", "--clipboard", "--print"])
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("clipboard"), "{}", run.stderr);
}

/// Runs Xvfb on a display number it picks itself (tests run in parallel, each with its own
/// server); killed on drop.
pub(crate) struct Xvfb {
    child: Child,
    pub(crate) display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_xvfb() -> Xvfb {
    use std::io::BufRead as _;
    // -displayfd: Xvfb takes the first free display and writes its number once it accepts
    // connections. -noreset: otherwise the server resets when a client disconnects.
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1600x900x24", "-nolisten", "tcp", "-noreset"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb must be installed for this test (apt-get install -y xvfb)");
    let mut number = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut number).unwrap();
    let xvfb = Xvfb { child, display: format!(":{}", number.trim()) };
    assert!(number.trim().parse::<u32>().is_ok(), "Xvfb did not start: {number:?}");
    assert!(x11rb::connect(Some(&xvfb.display)).is_ok(), "Xvfb is not on {}", xvfb.display);
    xvfb
}

/// Draws a grayscale image on the root window in strips within the request size limit.
fn draw_on_root(display: &str, image: &GrayImage, x: i16, y: i16) {
    use x11rb::connection::{Connection, RequestConnection};
    use x11rb::protocol::xproto::{ConnectionExt, CreateGCAux, ImageFormat};
    let (conn, screen_num) = x11rb::connect(Some(display)).unwrap();
    let screen = &conn.setup().roots[screen_num];
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, screen.root, &CreateGCAux::new()).unwrap().check().unwrap();
    let w = image.width() as usize;
    let rows_per_strip = ((conn.maximum_request_bytes() - 64) / (w * 4)).max(1);
    for (strip, rows) in image.as_raw().chunks(w * rows_per_strip).enumerate() {
        let data: Vec<u8> = rows.iter().flat_map(|&v| [v, v, v, 0]).collect();
        conn.put_image(
            ImageFormat::Z_PIXMAP,
            screen.root,
            gc,
            w as u16,
            (rows.len() / w) as u16,
            x,
            y + (strip * rows_per_strip) as i16,
            0,
            screen.root_depth,
            &data,
        )
        .unwrap()
        .check()
        .unwrap();
    }
}

#[test]
fn capture_reads_a_code_drawn_on_an_xvfb_screen() {
    use tessera::capture::{ScreenSource, capture_screens, scan_screens};
    use tessera_core::qr::{DecodeOptions, ScanSession, decode};
    let xvfb = start_xvfb();
    let uri = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let code = encode(uri).unwrap().to_luma(3, 4);
    let image = GrayImage::from_raw(code.width(), code.height(), code.pixels().to_vec()).unwrap();
    draw_on_root(&xvfb.display, &image, 700, 250);
    let frames = capture_screens(Some(&xvfb.display)).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].width(), frames[0].height()), (1600, 900));
    // No time budget: what is tested is that the screen's pixels reach the decoder, and a
    // loaded test machine could otherwise stop the search before the variant that reads it.
    let unbudgeted = DecodeOptions { budget: None, exhaustive: false };
    let got = decode(&frames[0], &unbudgeted);
    assert_eq!(got.payloads, [uri]);

    let mut session = ScanSession::new(ScreenSource::new(Some(xvfb.display.clone())), unbudgeted);
    assert_eq!(session.run().unwrap().payloads, [uri]);
    assert_eq!(scan_screens(Some(&xvfb.display), &unbudgeted).unwrap(), [uri]);
}

#[test]
fn scan_screen_finds_a_code_drawn_on_an_xvfb_screen() {
    let xvfb = start_xvfb();
    // A small code far from the centre, as on an employer's activation page.
    let image = codes_image(&[VISMA]);
    let small = image::imageops::resize(&image, 150, 150, image::imageops::FilterType::Triangle);
    draw_on_root(&xvfb.display, &small, 1300, 600);
    let home = Home::new();
    let run = to_run(
        &home
            .command()
            .args(["scan", "--screen", "--print"])
            .env("DISPLAY", &xvfb.display)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, format!("{VISMA}\n"));
}

/// A code holding `bytes` in byte mode, after an ECI designator when `eci` is given (the
/// `qrcode` crate's segment API: an encoder independent of ours), 4 px per module.
fn byte_mode_image(eci: Option<u32>, bytes: &[u8]) -> GrayImage {
    use qrcode::bits::Bits;
    use qrcode::types::{EcLevel, Version};
    let code = (1..=40)
        .find_map(|v| {
            let mut bits = Bits::new(Version::Normal(v));
            eci.map_or(Ok(()), |n| bits.push_eci_designator(n)).ok()?;
            bits.push_byte_data(bytes).ok()?;
            bits.push_terminator(EcLevel::M).ok()?;
            qrcode::QrCode::with_bits(bits, EcLevel::M).ok()
        })
        .unwrap();
    let w = code.width();
    let colors = code.into_colors();
    let side = u32::try_from((w + 8) * 4).unwrap();
    GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x as usize / 4).wrapping_sub(4), (y as usize / 4).wrapping_sub(4));
        let dark = mx < w && my < w && colors[my * w + mx] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    })
}

#[test]
fn an_iso_8859_1_code_adds_its_accented_issuer_exactly() {
    let home = Home::new();
    let text = format!("otpauth://totp/Zo\u{eb} Bank:me?secret={KEY}&issuer=Zo\u{eb} Bank");
    // Byte mode without ECI is ISO-8859-1 by the standard: one byte per character.
    let latin1: Vec<u8> = text.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
    let path = home.dir.path().join("latin1.png");
    byte_mode_image(None, &latin1).save(&path).unwrap();
    let out = home.ok(&["scan", arg(&path), "--add"]);
    assert!(out.contains("added Zo\u{eb} Bank (me)"), "{out}");
}

#[test]
fn a_code_whose_text_cannot_be_read_says_so_rather_than_no_code_found() {
    let home = Home::new();
    // ECI 26 declares UTF-8, but the bytes are ISO-8859-1 ("\xeb" alone is not UTF-8).
    let path = home.dir.path().join("bad-utf8.png");
    byte_mode_image(Some(26), b"otpauth://totp/Zo\xeb Bank:me?secret=JBSWY3DPEHPK3PXP")
        .save(&path)
        .unwrap();
    let run = home.run(&["scan", arg(&path)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("its text cannot be read"), "{}", run.stderr);
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);
    assert!(!run.stderr.contains("no QR code found"), "{}", run.stderr);
}
