//! Decoding under each adverse condition: generated, seeded images (see `qr_support`); each
//! test fails when the decoder stops reading that condition.

mod qr_support;

use qr_support::{Condition, payloads, render, to_frame};
use tessera_core::qr::{DecodeOptions, decode};

/// Renders several payloads under `condition` and checks every image decodes to exactly its
/// payloads.
fn assert_condition_decodes(condition: Condition) {
    let texts = payloads(6, 7);
    for (i, chunk) in texts.chunks(condition.codes()).take(3).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let sample = render(condition, &refs, 1000 + i as u64);
        // No time budget: the result must not depend on machine load.
        let options = DecodeOptions { budget: None, exhaustive: false };
        let got = decode(&to_frame(&sample.image), &options);
        let mut got = got.payloads;
        got.sort();
        let mut want = chunk.to_vec();
        want.sort();
        assert_eq!(got, want, "{} sample {i}", condition.name());
    }
}

#[test]
fn decodes_plain_codes() {
    assert_condition_decodes(Condition::Plain);
}

#[test]
fn decodes_inverted_codes_on_dark_pages() {
    assert_condition_decodes(Condition::Inverted);
}

#[test]
fn decodes_codes_without_quiet_zone() {
    assert_condition_decodes(Condition::NoQuietZone);
}

#[test]
fn decodes_noisy_codes() {
    assert_condition_decodes(Condition::Noise);
}

#[test]
fn decodes_blurred_codes() {
    assert_condition_decodes(Condition::Blur);
}

#[test]
fn decodes_low_contrast_codes() {
    assert_condition_decodes(Condition::LowContrast);
}

#[test]
fn decodes_codes_under_uneven_light() {
    assert_condition_decodes(Condition::Gradient);
}

#[test]
fn decodes_codes_seen_in_perspective() {
    assert_condition_decodes(Condition::Perspective);
}

#[test]
fn decodes_codes_rotated_by_30_degrees() {
    assert_condition_decodes(Condition::Rotate30);
}

#[test]
fn decodes_codes_rotated_by_90_degrees() {
    assert_condition_decodes(Condition::Rotate90);
}

#[test]
fn decodes_codes_with_jpeg_artefacts() {
    assert_condition_decodes(Condition::Jpeg);
}

#[test]
fn decodes_a_small_code_in_a_large_screenshot() {
    assert_condition_decodes(Condition::SmallInScreenshot);
}

#[test]
fn decodes_every_code_in_an_image_holding_several() {
    assert_condition_decodes(Condition::Multi);
}

#[test]
fn decodes_camera_frames_with_every_degradation_at_once() {
    assert_condition_decodes(Condition::Camera);
}

#[test]
fn renders_are_reproducible_from_the_seed() {
    let texts = payloads(1, 3);
    let a = render(Condition::Noise, &[&texts[0]], 5);
    let b = render(Condition::Noise, &[&texts[0]], 5);
    assert_eq!(a.image, b.image);
}
