//! From a sampled module grid to a code's parsed data, whichever detector found the grid (our
//! affine fast path, rqrr's detector, or rxing's zxing-cpp detector).
//!
//! The reading of format and version information, the unmasking, the de-interleaving of data
//! blocks and the Reed-Solomon error correction are rxing's (a port of ZXing's
//! `QRCodeDecoder`); what the corrected codewords say is [`super::text`]'s. A grid that does
//! not read is tried once more mirrored (a code seen through the back of a window or in a
//! selfie camera), as ISO/IEC 18004 annex on mirror imaging allows.

use rxing::common::BitMatrix;
use rxing::common::reedsolomon::{PredefinedGenericGF, ReedSolomonDecoder};
use rxing::qrcode::decoder::{BitMatrixParser, DataBlock};

use super::text::{Symbol, TextError};

/// A grid that read as a QR code (format, version and error correction succeeded): its data,
/// or why that data is not text.
pub(crate) type Read = Result<Symbol, TextError>;

/// Reads a square module grid (`true` = dark), `size` modules per side.
/// `None` when it is not a readable code (a chance pattern, or a code too damaged or badly
/// sampled): another detector or binarisation may do better.
pub(crate) fn read_fn(size: usize, dark: impl Fn(usize, usize) -> bool) -> Option<Read> {
    let mut bits = BitMatrix::with_single_dimension(size as u32).ok()?;
    for y in 0..size {
        for x in 0..size {
            if dark(x, y) {
                bits.set(x as u32, y as u32);
            }
        }
    }
    read(&bits)
}

/// Reads a sampled grid, trying it mirrored when it does not read as it is.
pub(crate) fn read(bits: &BitMatrix) -> Option<Read> {
    if !(21..=177).contains(&bits.width()) || bits.width() != bits.height() {
        return None;
    }
    // rxing's parser works on a copy it unmasks in place.
    let mut parser = BitMatrixParser::new(bits.clone()).ok()?;
    let (data, version) = match codewords(&mut parser) {
        Some(found) => found,
        None => {
            let mirrored = parser.remask().is_ok() && {
                parser.setMirror(true);
                parser.readVersion().is_ok() && parser.readFormatInformation().is_ok()
            };
            if !mirrored {
                return None;
            }
            parser.mirror();
            codewords(&mut parser)?
        }
    };
    Some(Symbol::parse(&data, version))
}

/// Error-corrected data codewords and the version number, or `None` when the grid is not a
/// readable QR code.
fn codewords(parser: &mut BitMatrixParser) -> Option<(Vec<u8>, u32)> {
    static RS: std::sync::LazyLock<ReedSolomonDecoder> = std::sync::LazyLock::new(|| {
        ReedSolomonDecoder::new(PredefinedGenericGF::QrCodeField256.into())
    });
    let version = parser.readVersion().ok()?;
    let level = parser.readFormatInformation().ok()?.getErrorCorrectionLevel();
    let raw = parser.readCodewords().ok()?;
    let blocks = DataBlock::getDataBlocks(&raw, version, level).ok()?;
    let mut data = Vec::new();
    for block in &blocks {
        let mut words = block.getCodewords().to_vec();
        let n = block.getNumDataCodewords() as usize;
        let ec = words.len().checked_sub(n)? as i32;
        RS.decode(&mut words, ec).ok()?;
        data.extend_from_slice(&words[..n]);
    }
    Some((data, version.getVersionNumber()))
}
