//! Text decoding per ISO/IEC 18004: codes written by independent encoders (the `qrcode` crate's
//! segment API here, segno for the structured-append fixtures in `qr_fixtures/`) in every mode
//! and character set issuers use, read back exactly and classified as before.

use qrcode::bits::Bits;
use qrcode::types::{EcLevel, Version};
use tessera_core::qr::{DecodeOptions, Decoded, LumaFrame, TextError, decode, decode_and_classify};
use tessera_core::uri::{Payload, QrKind, UriError};

/// One segment of a code's data stream.
enum Seg<'a> {
    Eci(u32),
    Bytes(&'a [u8]),
    Kanji(&'a str),
}

/// Encodes the segments with the `qrcode` crate (EC level M, the smallest version that fits)
/// and renders them black on white, 4 px per module, with a quiet zone.
fn render(segments: &[Seg<'_>]) -> LumaFrame {
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        let pushed = segments.iter().try_for_each(|s| match s {
            Seg::Eci(n) => bits.push_eci_designator(*n),
            Seg::Bytes(b) => bits.push_byte_data(b),
            Seg::Kanji(text) => {
                let (sjis, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
                assert!(!bad);
                bits.push_kanji_data(&sjis)
            }
        });
        if pushed.is_err() || bits.push_terminator(EcLevel::M).is_err() {
            continue;
        }
        let code = qrcode::QrCode::with_bits(bits, EcLevel::M).expect("bits fit the version");
        let w = code.width();
        let colors = code.into_colors();
        let (module, quiet) = (4, 4);
        let side = (w + 2 * quiet) * module;
        let mut px = vec![255u8; side * side];
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = ((x / module).wrapping_sub(quiet), (y / module).wrapping_sub(quiet));
                if mx < w && my < w && colors[my * w + mx] == qrcode::Color::Dark {
                    px[y * side + x] = 0;
                }
            }
        }
        return LumaFrame::new(side as u32, side as u32, px).expect("sized to match");
    }
    panic!("segments do not fit in a qr code");
}

fn read(segments: &[Seg<'_>]) -> Decoded {
    decode(&render(segments), &DecodeOptions::THOROUGH)
}

fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character")).collect()
}

fn issuer_of(frame: &LumaFrame) -> String {
    let found = decode_and_classify(frame, &DecodeOptions::THOROUGH);
    assert_eq!(found.len(), 1, "{found:?}");
    match &found[0].payload {
        Ok(Payload::Account(account)) => account.issuer.clone(),
        other => panic!("not an account: {other:?}"),
    }
}

const ZOE: &str = "otpauth://totp/Zoë%20Bank:alice?secret=JBSWY3DPEHPK3PXP&issuer=Zoë%20Bank";

#[test]
fn utf8_byte_mode_without_eci() {
    let got = read(&[Seg::Bytes(ZOE.as_bytes())]);
    assert_eq!(got.payloads, [ZOE]);
    assert!(got.problems.is_empty());
    assert_eq!(issuer_of(&render(&[Seg::Bytes(ZOE.as_bytes())])), "Zoë Bank");
}

#[test]
fn utf8_byte_mode_with_eci_26() {
    let segments = [Seg::Eci(26), Seg::Bytes(ZOE.as_bytes())];
    assert_eq!(read(&segments).payloads, [ZOE]);
    assert_eq!(issuer_of(&render(&segments)), "Zoë Bank");
}

#[test]
fn iso_8859_1_is_the_default_for_byte_mode() {
    let uri =
        "otpauth://totp/Société%20Générale:marie?secret=JBSWY3DPEHPK3PXP&issuer=Société%20Générale";
    let segments = [Seg::Bytes(&latin1(uri))];
    assert_eq!(read(&segments).payloads, [uri]);
    assert_eq!(issuer_of(&render(&segments)), "Société Générale");
    // The raw text as a common encoder writes it for "Zoë Bank": ISO-8859-1, no ECI.
    assert_eq!(read(&[Seg::Bytes(&latin1(ZOE))]).payloads, [ZOE]);
}

#[test]
fn iso_8859_1_named_by_eci_3() {
    let text = "Coöperatie";
    assert_eq!(read(&[Seg::Eci(3), Seg::Bytes(&latin1(text))]).payloads, [text]);
}

#[test]
fn kanji_mode_between_byte_segments() {
    let uri = "otpauth://totp/東京銀行:taro?secret=JBSWY3DPEHPK3PXP&issuer=東京銀行";
    let segments = [
        Seg::Bytes(b"otpauth://totp/"),
        Seg::Kanji("東京銀行"),
        Seg::Bytes(b":taro?secret=JBSWY3DPEHPK3PXP&issuer="),
        Seg::Kanji("東京銀行"),
    ];
    assert_eq!(read(&segments).payloads, [uri]);
    assert_eq!(issuer_of(&render(&segments)), "東京銀行");
}

#[test]
fn shift_jis_in_byte_mode_with_and_without_eci_20() {
    let text = "みずほ銀行 ログイン";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    assert_eq!(read(&[Seg::Eci(20), Seg::Bytes(&sjis)]).payloads, [text]);
    assert_eq!(read(&[Seg::Bytes(&sjis)]).payloads, [text]);
}

#[test]
fn web_links_and_push_enrolments_keep_their_kind() {
    let link = "https://example.com/über";
    let found =
        decode_and_classify(&render(&[Seg::Bytes(&latin1(link))]), &DecodeOptions::THOROUGH);
    assert_eq!(found[0].text, link);
    assert!(matches!(found[0].payload, Err(UriError::NotAnAccount { kind: QrKind::WebLink })));
}

#[test]
fn undecodable_bytes_are_reported_not_hidden() {
    // A code declaring UTF-8 (ECI 26) whose bytes are ISO-8859-1: read, but not text.
    let got = read(&[Seg::Eci(26), Seg::Bytes(&latin1(ZOE))]);
    assert!(got.payloads.is_empty());
    assert_eq!(got.problems, [TextError::Undecodable { charset: "UTF-8" }]);
    // A character set no one knows.
    let got = read(&[Seg::Eci(999), Seg::Bytes(b"x")]);
    assert_eq!(got.problems, [TextError::UnsupportedEci(999)]);
    // A blank frame is no problem at all: just nothing.
    let blank = LumaFrame::new(100, 100, vec![255; 10_000]).unwrap();
    assert_eq!(decode(&blank, &DecodeOptions::THOROUGH).problems, []);
}

fn fixture(name: &str) -> image::GrayImage {
    let path = format!("{}/tests/qr_fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    image::open(path).expect("fixture is readable").to_luma8()
}

fn frame(img: image::GrayImage) -> LumaFrame {
    let (w, h) = img.dimensions();
    LumaFrame::new(w, h, img.into_raw()).expect("sized to match")
}

#[test]
fn structured_append_parts_in_one_frame_are_joined() {
    let want =
        "otpauth://totp/Coöperatie%20Rabo:jan?secret=JBSWY3DPEHPK3PXP&issuer=Coöperatie%20Rabo";
    let (a, b) = (fixture("structured_append_0.png"), fixture("structured_append_1.png"));
    // Part 1 left of part 0: the order in the picture does not matter.
    let mut both = image::GrayImage::from_pixel(
        a.width() + b.width(),
        a.height().max(b.height()),
        image::Luma([255]),
    );
    image::imageops::replace(&mut both, &b, 0, 0);
    image::imageops::replace(&mut both, &a, i64::from(b.width()), 0);
    let got = decode(&frame(both), &DecodeOptions::THOROUGH);
    assert_eq!(got.payloads, [want]);
    assert!(got.problems.is_empty());
}

#[test]
fn a_lone_structured_append_part_is_reported_incomplete() {
    let got = decode(&frame(fixture("structured_append_1.png")), &DecodeOptions::THOROUGH);
    assert!(got.payloads.is_empty());
    assert_eq!(got.problems, [TextError::IncompleteSequence { found: 1, total: 2 }]);
}

#[test]
fn mirrored_codes_are_read() {
    let normal = render(&[Seg::Bytes(ZOE.as_bytes())]);
    let w = normal.width() as usize;
    let mirrored: Vec<u8> =
        normal.pixels().chunks(w).flat_map(|row| row.iter().rev().copied()).collect();
    let frame = LumaFrame::new(normal.width(), normal.height(), mirrored).unwrap();
    assert_eq!(decode(&frame, &DecodeOptions::THOROUGH).payloads, [ZOE]);
}
