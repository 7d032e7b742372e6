//! The text inside a QR code: from error-corrected data codewords to a string, following
//! ISO/IEC 18004:2015 section 7.4 (data encodation).
//!
//! A code's data is a sequence of segments (numeric, alphanumeric, byte, Kanji, Hanzi), each
//! preceded by a mode indicator and a character count, and optionally by an ECI designator
//! that names the character set of the bytes that follow, or a structured-append header that
//! makes the code one part of a sequence of up to 16 codes. This module parses that stream
//! and turns it into text:
//!
//! - byte segments under an ECI designator are decoded in that character set (UTF-8,
//!   ISO-8859-1..16, Shift_JIS, Windows-125x, UTF-16BE, Big5, GB18030, EUC-KR, ASCII);
//! - byte segments without one are UTF-8 when they are valid UTF-8 (what nearly every encoder
//!   writes today), else Shift_JIS when they contain Shift_JIS lead bytes (0x80-0x9F, which
//!   ISO-8859-1 leaves unassigned) and decode as such, else ISO-8859-1, the standard's default;
//! - Kanji segments are Shift_JIS, Hanzi segments GB2312 (decoded as GB18030, its superset);
//! - a sequence of structured-append parts is joined before its bytes are decoded, since a
//!   character may be split between two codes.
//!
//! Bytes that are not valid in the character set the code names give a [`TextError`], never a
//! replacement character or a silently different text: an otpauth URI with a mangled issuer
//! or secret must not be added.
//!
//! Written here rather than taken from rxing (whose Reed-Solomon decoder and module reader we
//! do use, see `super::grid`): rxing's `ECIStringBuilder` replaces text it cannot decode by an
//! empty string and guesses the character set of every byte segment, which gives wrong text
//! instead of an error; rqrr knows no character set but UTF-8.

use std::borrow::Cow;

/// Why the data of a QR code did not give text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The bytes are not valid in the character set the code declares.
    #[error("the qr code holds bytes that are not valid {charset} text")]
    Undecodable {
        /// The character set the bytes were decoded in.
        charset: &'static str,
    },
    /// The code names a character set (ECI designator) this decoder does not know.
    #[error("the qr code uses character set ECI {0}, which is not supported")]
    UnsupportedEci(u32),
    /// The data stream breaks the standard (unknown mode, count beyond the data, ...).
    #[error("the qr code's data is malformed")]
    Malformed,
    /// Only some codes of a structured-append sequence were seen.
    #[error("found {found} of the {total} qr codes that together hold one text")]
    IncompleteSequence {
        /// Parts found.
        found: usize,
        /// Parts in the sequence.
        total: usize,
    },
}

/// A character set a run of bytes is decoded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// No ECI in effect: UTF-8, Shift_JIS or ISO-8859-1 by the rule in the module docs.
    Default,
    /// Digits and the alphanumeric set: ASCII whatever the ECI.
    Ascii,
    Latin1,
    Utf8,
    /// A character set known to `encoding_rs`.
    Encoding(&'static encoding_rs::Encoding),
    /// ECI 899: bytes that are not text; accepted only when they happen to be UTF-8.
    Binary,
}

impl Charset {
    /// The character set of an ECI assignment number (AIM ECI specification, table 3).
    fn from_eci(eci: u32) -> Result<Self, TextError> {
        use encoding_rs as e;
        Ok(match eci {
            1 | 3 => Self::Latin1,
            4 => Self::Encoding(e::ISO_8859_2),
            5 => Self::Encoding(e::ISO_8859_3),
            6 => Self::Encoding(e::ISO_8859_4),
            7 => Self::Encoding(e::ISO_8859_5),
            8 => Self::Encoding(e::ISO_8859_6),
            9 => Self::Encoding(e::ISO_8859_7),
            10 => Self::Encoding(e::ISO_8859_8),
            // encoding_rs treats ISO-8859-9 and -11 as the Windows supersets, as browsers do.
            11 => Self::Encoding(e::WINDOWS_1254),
            12 => Self::Encoding(e::ISO_8859_10),
            13 => Self::Encoding(e::WINDOWS_874),
            15 => Self::Encoding(e::ISO_8859_13),
            16 => Self::Encoding(e::ISO_8859_14),
            17 => Self::Encoding(e::ISO_8859_15),
            18 => Self::Encoding(e::ISO_8859_16),
            20 => Self::Encoding(e::SHIFT_JIS),
            21 => Self::Encoding(e::WINDOWS_1250),
            22 => Self::Encoding(e::WINDOWS_1251),
            23 => Self::Encoding(e::WINDOWS_1252),
            24 => Self::Encoding(e::WINDOWS_1256),
            25 => Self::Encoding(e::UTF_16BE),
            26 => Self::Utf8,
            27 | 170 => Self::Ascii,
            28 => Self::Encoding(e::BIG5),
            29 | 32 => Self::Encoding(e::GB18030),
            30 => Self::Encoding(e::EUC_KR),
            899 => Self::Binary,
            other => return Err(TextError::UnsupportedEci(other)),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Default | Self::Utf8 | Self::Binary => "UTF-8",
            Self::Ascii => "ASCII",
            Self::Latin1 => "ISO-8859-1",
            Self::Encoding(e) => e.name(),
        }
    }
}

/// The structured-append header: this code is part `index` of `total`, and `parity` (the XOR
/// of all bytes of the whole text) ties the parts of one sequence together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Append {
    pub(crate) index: u8,
    pub(crate) total: u8,
    pub(crate) parity: u8,
}

/// One code's data, parsed but not yet turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Symbol {
    runs: Vec<(Charset, Vec<u8>)>,
    pub(crate) append: Option<Append>,
}

/// Reads bits most significant first from the data codewords.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn remaining(&self) -> usize {
        self.data.len() * 8 - self.pos
    }

    fn take(&mut self, n: usize) -> Result<u32, TextError> {
        if n > self.remaining() {
            return Err(TextError::Malformed);
        }
        let mut v = 0u32;
        for _ in 0..n {
            let bit = self.data[self.pos / 8] >> (7 - self.pos % 8) & 1;
            v = v << 1 | u32::from(bit);
            self.pos += 1;
        }
        Ok(v)
    }
}

const ALPHANUMERIC: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

impl Symbol {
    fn push(&mut self, charset: Charset, bytes: &[u8]) {
        match self.runs.last_mut() {
            Some((c, run)) if *c == charset => run.extend_from_slice(bytes),
            _ => self.runs.push((charset, bytes.to_vec())),
        }
    }

    /// Parses the error-corrected data codewords of a (non-micro) QR code of `version` 1-40.
    pub(crate) fn parse(data: &[u8], version: u32) -> Result<Self, TextError> {
        let mut bits = Bits { data, pos: 0 };
        let mut symbol = Self { runs: Vec::new(), append: None };
        let mut charset = Charset::Default;
        // FNC1 in first position (GS1): '%' in alphanumeric data stands for the GS separator.
        let mut gs1 = false;
        let size = match version {
            1..=9 => 0,
            10..=26 => 1,
            _ => 2,
        };
        // A stream may end without a terminator when the data fills the code.
        while bits.remaining() >= 4 {
            let mode = bits.take(4)?;
            match mode {
                0 => break,
                0b0001 => {
                    let mut count = bits.take([10, 12, 14][size])?;
                    let mut out = Vec::new();
                    while count > 0 {
                        let (n, width) = match count {
                            1 => (1, 4),
                            2 => (2, 7),
                            _ => (3, 10),
                        };
                        let v = bits.take(width)?;
                        if v >= 10u32.pow(n) {
                            return Err(TextError::Malformed);
                        }
                        out.extend(format!("{v:0width$}", width = n as usize).bytes());
                        count -= n;
                    }
                    symbol.push(Charset::Ascii, &out);
                }
                0b0010 => {
                    let mut count = bits.take([9, 11, 13][size])?;
                    let mut out = Vec::new();
                    while count > 0 {
                        let (n, width) = if count == 1 { (1, 6) } else { (2, 11) };
                        let v = bits.take(width)? as usize;
                        if n == 2 {
                            let (a, b) = (v / 45, v % 45);
                            if a >= 45 {
                                return Err(TextError::Malformed);
                            }
                            out.extend([ALPHANUMERIC[a], ALPHANUMERIC[b]]);
                        } else {
                            out.push(*ALPHANUMERIC.get(v).ok_or(TextError::Malformed)?);
                        }
                        count -= n;
                    }
                    if gs1 {
                        out = gs1_percent(&out);
                    }
                    symbol.push(Charset::Ascii, &out);
                }
                0b0100 => {
                    let count = bits.take([8, 16, 16][size])? as usize;
                    if count * 8 > bits.remaining() {
                        return Err(TextError::Malformed);
                    }
                    let out: Vec<u8> = (0..count)
                        .map(|_| bits.take(8).map(|b| b as u8))
                        .collect::<Result<_, _>>()?;
                    symbol.push(charset, &out);
                }
                0b1000 => {
                    let count = bits.take([8, 10, 12][size])?;
                    let mut out = Vec::new();
                    for _ in 0..count {
                        let v = bits.take(13)?;
                        let packed = (v / 0xC0) << 8 | (v % 0xC0);
                        let sjis = if packed < 0x1F00 { packed + 0x8140 } else { packed + 0xC140 };
                        out.extend([(sjis >> 8) as u8, sjis as u8]);
                    }
                    symbol.push(Charset::Encoding(encoding_rs::SHIFT_JIS), &out);
                }
                0b1101 => {
                    // GB/T 18284 Hanzi mode: a 4-bit subset (1 = GB2312), then the count.
                    if bits.take(4)? != 1 {
                        return Err(TextError::Malformed);
                    }
                    let count = bits.take([8, 10, 12][size])?;
                    let mut out = Vec::new();
                    for _ in 0..count {
                        let v = bits.take(13)?;
                        let packed = (v / 0x60) << 8 | (v % 0x60);
                        let gb = if packed < 0xA00 { packed + 0xA1A1 } else { packed + 0xA6A1 };
                        out.extend([(gb >> 8) as u8, gb as u8]);
                    }
                    symbol.push(Charset::Encoding(encoding_rs::GB18030), &out);
                }
                0b0111 => {
                    let first = bits.take(8)?;
                    let eci = if first & 0x80 == 0 {
                        first
                    } else if first & 0xC0 == 0x80 {
                        (first & 0x3F) << 8 | bits.take(8)?
                    } else if first & 0xE0 == 0xC0 {
                        (first & 0x1F) << 16 | bits.take(16)?
                    } else {
                        return Err(TextError::Malformed);
                    };
                    charset = Charset::from_eci(eci)?;
                }
                0b0011 => {
                    let index = bits.take(4)? as u8;
                    let total = bits.take(4)? as u8 + 1;
                    let parity = bits.take(8)? as u8;
                    symbol.append = Some(Append { index, total, parity });
                }
                0b0101 => gs1 = true,
                0b1001 => {
                    // FNC1 in second position: an application indicator that is not text.
                    bits.take(8)?;
                }
                _ => return Err(TextError::Malformed),
            }
        }
        Ok(symbol)
    }

    /// Decodes the symbol's text (for a lone code, or a whole joined sequence).
    pub(crate) fn text(&self) -> Result<String, TextError> {
        let mut out = String::new();
        for (charset, bytes) in &self.runs {
            out.push_str(&decode_run(*charset, bytes)?);
        }
        Ok(out)
    }

    /// Joins the parts of one structured-append sequence, given in any order; all parts must
    /// be present.
    pub(crate) fn join(parts: &[&Self]) -> Result<Self, TextError> {
        let total = parts.first().and_then(|p| p.append).map_or(1, |a| usize::from(a.total));
        let mut ordered: Vec<Option<&Self>> = vec![None; total];
        for part in parts {
            if let Some(a) = part.append
                && let Some(slot) = ordered.get_mut(usize::from(a.index))
            {
                *slot = Some(part);
            }
        }
        let found = ordered.iter().filter(|p| p.is_some()).count();
        if found < total {
            return Err(TextError::IncompleteSequence { found, total });
        }
        let mut joined = Self { runs: Vec::new(), append: None };
        for part in ordered.into_iter().flatten() {
            for (charset, bytes) in &part.runs {
                joined.push(*charset, bytes);
            }
        }
        Ok(joined)
    }
}

/// In GS1 alphanumeric data, "%%" is a literal '%' and a single '%' the GS separator (0x1D).
fn gs1_percent(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'%' {
            if data.get(i + 1) == Some(&b'%') {
                out.push(b'%');
                i += 1;
            } else {
                out.push(0x1D);
            }
        } else {
            out.push(data[i]);
        }
        i += 1;
    }
    out
}

fn decode_run(charset: Charset, bytes: &[u8]) -> Result<Cow<'_, str>, TextError> {
    let undecodable = || TextError::Undecodable { charset: charset.name() };
    match charset {
        Charset::Ascii => {
            if bytes.is_ascii() {
                Ok(String::from_utf8_lossy(bytes))
            } else {
                Err(undecodable())
            }
        }
        Charset::Utf8 | Charset::Binary => {
            std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|_| undecodable())
        }
        Charset::Latin1 => Ok(Cow::Owned(latin1(bytes))),
        Charset::Encoding(e) => strict(e, bytes).ok_or_else(undecodable),
        Charset::Default => {
            if let Ok(text) = std::str::from_utf8(bytes) {
                return Ok(Cow::Borrowed(text));
            }
            // 0x80-0x9F are control codes in ISO-8859-1 that no text uses, and lead bytes of
            // double-byte characters in Shift_JIS.
            if bytes.iter().any(|b| (0x80..0xA0).contains(b))
                && let Some(text) = strict(encoding_rs::SHIFT_JIS, bytes)
            {
                return Ok(text);
            }
            Ok(Cow::Owned(latin1(bytes)))
        }
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Decodes without replacement characters: `None` if any byte sequence is invalid.
fn strict<'a>(encoding: &'static encoding_rs::Encoding, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
    encoding.decode_without_bom_handling_and_without_replacement(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a data stream from (value, bit width) pairs, padded to whole bytes.
    fn stream(fields: &[(u32, usize)]) -> Vec<u8> {
        let mut bits = Vec::new();
        for &(v, n) in fields {
            bits.extend((0..n).rev().map(|i| v >> i & 1 == 1));
        }
        bits.resize(bits.len().div_ceil(8) * 8, false);
        bits.chunks(8).map(|c| c.iter().fold(0u8, |a, &b| a << 1 | u8::from(b))).collect()
    }

    fn bytes_segment(data: &[u8]) -> Vec<(u32, usize)> {
        let mut f = vec![(0b0100, 4), (data.len() as u32, 8)];
        f.extend(data.iter().map(|&b| (u32::from(b), 8)));
        f
    }

    #[test]
    fn numeric_and_alphanumeric_segments() {
        // "01234567" numeric, then "AC-42" alphanumeric (ISO 18004 annex examples).
        let data = stream(&[
            (0b0001, 4),
            (8, 10),
            (12, 10),
            (345, 10),
            (67, 7),
            (0b0010, 4),
            (5, 9),
            (10 * 45 + 12, 11),
            (41 * 45 + 4, 11),
            (2, 6),
            (0, 4),
        ]);
        assert_eq!(Symbol::parse(&data, 1).unwrap().text().unwrap(), "01234567AC-42");
    }

    #[test]
    fn byte_mode_without_eci_is_utf8_when_valid_else_latin1() {
        let utf8 = stream(&bytes_segment("Zoë".as_bytes()));
        assert_eq!(Symbol::parse(&utf8, 1).unwrap().text().unwrap(), "Zoë");
        let latin1 = stream(&bytes_segment(b"Zo\xEB Bank"));
        assert_eq!(Symbol::parse(&latin1, 1).unwrap().text().unwrap(), "Zoë Bank");
    }

    #[test]
    fn byte_mode_without_eci_recognises_shift_jis() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("東京銀行");
        let data = stream(&bytes_segment(&sjis));
        assert_eq!(Symbol::parse(&data, 1).unwrap().text().unwrap(), "東京銀行");
    }

    #[test]
    fn invalid_utf8_under_a_utf8_eci_is_an_error() {
        let mut f = vec![(0b0111, 4), (26, 8)];
        f.extend(bytes_segment(b"Zo\xEB"));
        let err = Symbol::parse(&stream(&f), 1).unwrap().text().unwrap_err();
        assert_eq!(err, TextError::Undecodable { charset: "UTF-8" });
        assert_eq!(err.to_string(), "the qr code holds bytes that are not valid UTF-8 text");
    }

    #[test]
    fn two_byte_eci_designators_and_unknown_ones() {
        // ECI 899 (binary) in the two-byte form 10xxxxxx xxxxxxxx.
        let mut f = vec![(0b0111, 4), (0x8000 | 899, 16)];
        f.extend(bytes_segment(b"ok"));
        assert_eq!(Symbol::parse(&stream(&f), 1).unwrap().text().unwrap(), "ok");
        let f = [(0b0111, 4), (0x8000 | 900, 16)];
        assert_eq!(Symbol::parse(&stream(&f), 1), Err(TextError::UnsupportedEci(900)));
    }

    #[test]
    fn truncated_and_unknown_modes_are_malformed() {
        assert_eq!(
            Symbol::parse(&stream(&[(0b0100, 4), (9, 8), (1, 8)]), 1),
            Err(TextError::Malformed)
        );
        assert_eq!(Symbol::parse(&stream(&[(0b1111, 4)]), 1), Err(TextError::Malformed));
        assert_eq!(
            Symbol::parse(&stream(&[(0b0001, 4), (1, 10), (12, 4)]), 1),
            Err(TextError::Malformed)
        );
    }

    #[test]
    fn structured_append_joins_a_character_split_between_parts() {
        let word = "Coöperatie".as_bytes();
        let parity = word.iter().fold(0, |a, b| a ^ b);
        let (a, b) = word.split_at(3); // splits the two bytes of 'ö'
        let part = |i: u32, data: &[u8]| {
            let mut f = vec![(0b0011, 4), (i, 4), (1, 4), (u32::from(parity), 8)];
            f.extend(bytes_segment(data));
            Symbol::parse(&stream(&f), 1).unwrap()
        };
        let (p0, p1) = (part(0, a), part(1, b));
        assert_eq!(p1.append, Some(Append { index: 1, total: 2, parity }));
        assert_eq!(Symbol::join(&[&p1, &p0]).unwrap().text().unwrap(), "Coöperatie");
        assert_eq!(Symbol::join(&[&p1]), Err(TextError::IncompleteSequence { found: 1, total: 2 }));
    }

    #[test]
    fn gs1_alphanumeric_percent_is_the_group_separator() {
        assert_eq!(gs1_percent(b"A%B%%C"), b"A\x1DB%C");
    }
}
