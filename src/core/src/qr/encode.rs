//! QR encoding for export: an account's otpauth URI or a Google-migration batch becomes a
//! module matrix, rendered to a [`LumaFrame`] for the GUI or a file.

use super::{LumaFrame, QrError};

/// A QR code as a square matrix of dark/light modules, without quiet zone.
#[derive(Clone, PartialEq, Eq)]
pub struct QrMatrix {
    size: usize,
    dark: Vec<bool>,
}

impl std::fmt::Debug for QrMatrix {
    // The modules encode the payload (often a secret): print only the size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrMatrix").field("size", &self.size).finish_non_exhaustive()
    }
}

/// Encodes text as a QR code with error-correction level M (15 % of the code may be damaged),
/// choosing the smallest version that fits; long migration batches get a larger version.
pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| match e {
            qrcode::types::QrError::DataTooLong => QrError::TooLong,
            other => QrError::Encode(other),
        })?;
    let size = code.width();
    let dark = code.into_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
    Ok(QrMatrix { size, dark })
}

impl QrMatrix {
    /// Returns the number of modules per side (21 for version 1, +4 per version).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Returns whether the module at column `x`, row `y` is dark; outside the code is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }

    /// Renders the code black on white with `module_px` pixels per module and a quiet zone of
    /// `quiet_modules` modules on each side (the standard asks for 4).
    ///
    /// Sizes are clamped so the result stays within [`super::MAX_PIXELS`].
    pub fn to_luma(&self, module_px: u32, quiet_modules: u32) -> LumaFrame {
        let module = module_px.clamp(1, 64) as usize;
        let quiet = quiet_modules.min(64) as usize;
        let side = (self.size + 2 * quiet) * module;
        let mut pixels = vec![255u8; side * side];
        for y in 0..side {
            let my = (y / module).wrapping_sub(quiet);
            for x in 0..side {
                if self.is_dark((x / module).wrapping_sub(quiet), my) {
                    pixels[y * side + x] = 0;
                }
            }
        }
        let side = side as u32;
        LumaFrame::new(side, side, pixels)
            .expect("invariant: at most (177 + 128) * 64 pixels per side, buffer sized to match")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_short_text_as_version_one() {
        let m = encode("hello").unwrap();
        assert_eq!(m.size(), 21);
        // Finder pattern corners are dark, the separator beside them light.
        assert!(m.is_dark(0, 0) && m.is_dark(20, 0) && m.is_dark(0, 20));
        assert!(!m.is_dark(7, 0));
        assert!(!m.is_dark(21, 0));
    }

    #[test]
    fn renders_with_quiet_zone() {
        let frame = encode("hello").unwrap().to_luma(2, 4);
        assert_eq!(frame.width(), (21 + 8) * 2);
        assert_eq!(frame.pixels()[0], 255);
        let first_dark = 8 * frame.width() as usize + 8;
        assert_eq!(frame.pixels()[first_dark], 0);
    }

    #[test]
    fn refuses_text_longer_than_any_code() {
        let long = "A".repeat(5000);
        assert!(matches!(encode(&long), Err(QrError::TooLong)));
    }

    #[test]
    fn round_trips_through_the_decoder() {
        let uri = "otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU%3D";
        let frame = encode(uri).unwrap().to_luma(3, 4);
        assert_eq!(
            super::super::decode(&frame, &super::super::DecodeOptions::STILL).payloads,
            [uri]
        );
    }
}
