//! The small part of Java object serialisation (`java.io.ObjectOutputStream`) that holds an
//! Android app's preferences: one `java.util.HashMap` whose keys are strings and whose values are
//! strings or boxed primitives (`Boolean`, `Integer`, `Long`, `Float`). FreeOTP 2.x writes its
//! backup this way (see [`super::free_otp_backup`]).
//!
//! Source: the Java Object Serialization Specification, chapter 6 "Object Serialization Stream
//! Protocol" (grammar, `TC_*` codes, handles, modified UTF-8), and `java.util.HashMap`'s
//! `writeObject` (its fields, then a block with capacity and size, then key/value pairs). Android
//! before 7 wrote only `loadFactor` as a field, later versions `loadFactor` and `threshold`: the
//! fields are read from the class description, not assumed.
//!
//! Why by hand: the one Rust crate for this, `jaded` 0.5, reads any object graph, but it
//! pre-allocates the length a long string declares (`TC_LONGSTRING` carries a 64-bit length) and
//! follows nested objects without a depth limit, so a crafted file could make us allocate
//! without bound or overflow the stack. A map of strings needs a few dozen lines; here every
//! length is checked against the bytes that remain, nesting is limited, and anything outside the
//! subset is refused with a message that names it.

use std::rc::Rc;

/// The first bytes of every `ObjectOutputStream`: magic `0xACED`, stream version 5.
pub(crate) const MAGIC: &[u8] = &[0xac, 0xed, 0x00, 0x05];

const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_BLOCKDATALONG: u8 = 0x7a;
const TC_LONGSTRING: u8 = 0x7c;
/// The first handle number a stream assigns.
const BASE_HANDLE: u32 = 0x7e_0000;
/// `classDescFlags`: the class has a `writeObject` method (its data ends with a block).
const SC_WRITE_METHOD: u8 = 0x01;
/// `classDescFlags`: the class is `Serializable`.
const SC_SERIALIZABLE: u8 = 0x02;
/// How deep a class hierarchy may be (`Integer` -> `Number` is 2).
const MAX_CLASS_DEPTH: usize = 8;

/// One value of the map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A `java.lang.String`.
    Text(String),
    /// A boxed primitive or `null`, shown as Java's class name ("java.lang.Boolean").
    Other(String),
}

/// A class description: its name, flags, primitive field type codes and superclass.
#[derive(Debug)]
struct ClassDesc {
    name: String,
    flags: u8,
    fields: Vec<u8>,
    parent: Option<Rc<Self>>,
}

/// What a handle refers to (back-references may point at any earlier string or class).
enum Handle {
    Text(String),
    Class(Rc<ClassDesc>),
    Object,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    handles: Vec<Handle>,
}

/// Reads a serialised `HashMap` and returns its entries in stream order.
///
/// The error says what is wrong and where (byte offset), never the content.
pub(crate) fn read_map(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    if !bytes.starts_with(MAGIC) {
        return Err("not a Java serialisation stream (no 0xACED0005 header)".into());
    }
    let mut r = Reader { bytes, at: MAGIC.len(), handles: Vec::new() };
    r.expect(TC_OBJECT, "the map object")?;
    let class = r.class_desc(0)?.ok_or("the map's class description is null")?;
    if class.name != "java.util.HashMap" && class.name != "java.util.LinkedHashMap" {
        return Err(format!(
            "the stream holds a {}, not a java.util.HashMap",
            shorten(&class.name)
        ));
    }
    r.handles.push(Handle::Object);
    // HashMap's serialisable fields (loadFactor, threshold), then its writeObject block.
    r.field_values(&class)?;
    let block = r.block_header()?;
    if block < 8 {
        return Err(format!("the map's size block is {block} bytes, not 8"));
    }
    let _capacity = r.u32()?;
    let size = r.u32()?;
    r.skip(block - 8)?;
    // Each entry takes at least two bytes: never reserve more than the stream could hold.
    let mut entries = Vec::with_capacity((size as usize).min(r.remaining() / 2));
    for index in 0..size {
        let key = match r.value(0)? {
            Value::Text(key) => key,
            Value::Other(class) => {
                return Err(format!("key {} of the map is a {}, not a string", index + 1, class));
            }
        };
        let value = r.value(0)?;
        entries.push((key, value));
    }
    Ok(entries)
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "the stream ends at byte {} where {n} more bytes were expected",
                self.bytes.len()
            ));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    fn expect(&mut self, code: u8, what: &str) -> Result<(), String> {
        let at = self.at;
        match self.u8()? {
            found if found == code => Ok(()),
            found => Err(format!("expected {what} at byte {at}, found code 0x{found:02x}")),
        }
    }

    /// Reads a `u16`-length modified-UTF-8 string (names, `TC_STRING` content).
    fn utf(&mut self) -> Result<String, String> {
        let len = usize::from(self.u16()?);
        let at = self.at;
        let bytes = self.take(len)?;
        modified_utf8(bytes).ok_or_else(|| format!("the text at byte {at} is not modified UTF-8"))
    }

    fn handle(&mut self) -> Result<&Handle, String> {
        let at = self.at;
        let number = self.u32()?;
        number
            .checked_sub(BASE_HANDLE)
            .and_then(|i| self.handles.get(i as usize))
            .ok_or_else(|| format!("the reference at byte {at} points at nothing (0x{number:08x})"))
    }

    /// Reads a class description (`TC_CLASSDESC`, `TC_REFERENCE` or `TC_NULL`).
    fn class_desc(&mut self, depth: usize) -> Result<Option<Rc<ClassDesc>>, String> {
        if depth > MAX_CLASS_DEPTH {
            return Err("class hierarchy nested too deeply".into());
        }
        let at = self.at;
        match self.u8()? {
            TC_NULL => Ok(None),
            TC_REFERENCE => match self.handle()? {
                Handle::Class(class) => Ok(Some(Rc::clone(class))),
                _ => Err(format!("the reference at byte {at} is not a class description")),
            },
            TC_CLASSDESC => {
                let name = self.utf()?;
                let _serial_version_uid = self.u64()?;
                // The handle is assigned before the description's body is read; a reference to
                // it from inside the body (not possible with primitive fields) would be refused.
                let slot = self.handles.len();
                self.handles.push(Handle::Object);
                let flags = self.u8()?;
                if flags & SC_SERIALIZABLE == 0 {
                    return Err(format!(
                        "class {} is not Serializable (flags 0x{flags:02x}): externalised data is not read",
                        shorten(&name)
                    ));
                }
                let count = self.u16()?;
                let mut fields = Vec::with_capacity(usize::from(count).min(self.remaining() / 3));
                for _ in 0..count {
                    let code = self.u8()?;
                    let field = self.utf()?;
                    if primitive_size(code).is_none() {
                        return Err(format!(
                            "field {} of {} is an object field, which preferences never hold",
                            shorten(&field),
                            shorten(&name)
                        ));
                    }
                    fields.push(code);
                }
                self.expect(TC_ENDBLOCKDATA, "the end of the class annotation")?;
                let parent = self.class_desc(depth + 1)?;
                let class = Rc::new(ClassDesc { name, flags, fields, parent });
                self.handles[slot] = Handle::Class(Rc::clone(&class));
                Ok(Some(class))
            }
            code => {
                Err(format!("expected a class description at byte {at}, found code 0x{code:02x}"))
            }
        }
    }

    /// Skips the primitive field values of `class` and its superclasses (superclass first).
    fn field_values(&mut self, class: &ClassDesc) -> Result<(), String> {
        let mut chain = vec![class];
        while let Some(parent) = chain.last().and_then(|c| c.parent.as_deref()) {
            chain.push(parent);
        }
        for c in chain.iter().rev() {
            for code in &c.fields {
                self.skip(primitive_size(*code).unwrap_or(0))?;
            }
            if c.flags & SC_WRITE_METHOD != 0 && !std::ptr::eq(*c, class) {
                return Err(format!(
                    "class {} writes custom data, which this reader does not follow",
                    shorten(&c.name)
                ));
            }
        }
        Ok(())
    }

    /// Reads a block-data header and returns the block's length.
    fn block_header(&mut self) -> Result<usize, String> {
        let at = self.at;
        match self.u8()? {
            TC_BLOCKDATA => Ok(usize::from(self.u8()?)),
            TC_BLOCKDATALONG => Ok(self.u32()? as usize),
            code => {
                Err(format!("expected the map's size block at byte {at}, found code 0x{code:02x}"))
            }
        }
    }

    /// Reads one key or value: a string, a back-reference to one, `null` or a boxed primitive.
    fn value(&mut self, depth: usize) -> Result<Value, String> {
        let at = self.at;
        match self.u8()? {
            TC_STRING => {
                let text = self.utf()?;
                self.handles.push(Handle::Text(text.clone()));
                Ok(Value::Text(text))
            }
            TC_LONGSTRING => {
                let len = self.u64()?;
                let len = usize::try_from(len).ok().filter(|n| *n <= self.remaining()).ok_or_else(
                    || format!("the long string at byte {at} is longer than the file"),
                )?;
                let text = modified_utf8(self.take(len)?)
                    .ok_or_else(|| format!("the text at byte {at} is not modified UTF-8"))?;
                self.handles.push(Handle::Text(text.clone()));
                Ok(Value::Text(text))
            }
            TC_REFERENCE => match self.handle()? {
                Handle::Text(text) => Ok(Value::Text(text.clone())),
                Handle::Class(_) | Handle::Object => {
                    Err(format!("the reference at byte {at} is not a string"))
                }
            },
            TC_NULL => Ok(Value::Other("null".into())),
            TC_OBJECT => {
                let class = self.class_desc(depth)?.ok_or("an object without a class")?;
                if class.flags & SC_WRITE_METHOD != 0 {
                    return Err(format!(
                        "the value at byte {at} is a {}, which preferences never hold",
                        shorten(&class.name)
                    ));
                }
                self.handles.push(Handle::Object);
                self.field_values(&class)?;
                Ok(Value::Other(class.name.clone()))
            }
            code => {
                Err(format!("expected a string or value at byte {at}, found code 0x{code:02x}"))
            }
        }
    }
}

/// Returns the size in bytes of a primitive field with this type code, or `None` for `L`/`[`.
fn primitive_size(code: u8) -> Option<usize> {
    match code {
        b'B' | b'Z' => Some(1),
        b'C' | b'S' => Some(2),
        b'I' | b'F' => Some(4),
        b'J' | b'D' => Some(8),
        _ => None,
    }
}

/// Decodes Java's modified UTF-8: standard UTF-8 except that U+0000 is `C0 80` and characters
/// beyond U+FFFF are two 3-byte surrogates (CESU-8). `None` if the bytes are neither.
fn modified_utf8(bytes: &[u8]) -> Option<String> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_owned());
    }
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let continuation =
        |b: Option<&u8>| b.filter(|b| *b & 0xc0 == 0x80).map(|b| u16::from(b & 0x3f));
    while let Some(&b) = bytes.get(i) {
        let b = u16::from(b);
        if b < 0x80 {
            units.push(b);
            i += 1;
        } else if b & 0xe0 == 0xc0 {
            units.push(((b & 0x1f) << 6) | continuation(bytes.get(i + 1))?);
            i += 2;
        } else if b & 0xf0 == 0xe0 {
            let (c1, c2) = (continuation(bytes.get(i + 1))?, continuation(bytes.get(i + 2))?);
            units.push(((b & 0x0f) << 12) | (c1 << 6) | c2);
            i += 3;
        } else {
            return None;
        }
    }
    String::from_utf16(&units).ok()
}

/// Returns at most 60 characters of a name from the file, for messages.
fn shorten(name: &str) -> String {
    name.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds the stream a JVM writes for `new HashMap<>()` with the given entries, using
    /// Android 7+'s HashMap fields (loadFactor, threshold).
    fn stream(entries: &[u8], size: u32) -> Vec<u8> {
        let mut s = MAGIC.to_vec();
        s.extend([TC_OBJECT, TC_CLASSDESC]);
        s.extend(u16::try_from("java.util.HashMap".len()).unwrap().to_be_bytes());
        s.extend(b"java.util.HashMap");
        s.extend(362_498_820_763_181_265_u64.to_be_bytes());
        s.extend([0x03, 0x00, 0x02, b'F', 0x00, 0x0a]);
        s.extend(b"loadFactor");
        s.extend([b'I', 0x00, 0x09]);
        s.extend(b"threshold");
        s.extend([TC_ENDBLOCKDATA, TC_NULL]);
        s.extend(0.75_f32.to_be_bytes());
        s.extend(12_u32.to_be_bytes());
        s.extend([TC_BLOCKDATA, 8]);
        s.extend(16_u32.to_be_bytes());
        s.extend(size.to_be_bytes());
        s.extend(entries);
        s.push(TC_ENDBLOCKDATA);
        s
    }

    fn string(text: &[u8]) -> Vec<u8> {
        let mut s = vec![TC_STRING];
        s.extend(u16::try_from(text.len()).unwrap().to_be_bytes());
        s.extend(text);
        s
    }

    #[test]
    fn strings_references_and_booleans_are_read() {
        let mut body = string(b"k");
        body.extend(string(b"v"));
        // Handles: 0 class, 1 map, 2 "k", 3 "v". A second key refers back to "v".
        body.extend(string(b"k2"));
        body.extend([TC_REFERENCE, 0x00, 0x7e, 0x00, 0x03]);
        // java.lang.Boolean TRUE: class with one 'Z' field named value, no superclass.
        body.extend(string(b"flag"));
        body.extend([TC_OBJECT, TC_CLASSDESC, 0x00, 0x11]);
        body.extend(b"java.lang.Boolean");
        body.extend([0xcd, 0x20, 0x72, 0x80, 0xd5, 0x9c, 0xfa, 0xee, 0x02, 0x00, 0x01, b'Z']);
        body.extend([0x00, 0x05]);
        body.extend(b"value");
        body.extend([TC_ENDBLOCKDATA, TC_NULL, 0x01]);
        let map = read_map(&stream(&body, 3)).unwrap();
        assert_eq!(
            map,
            vec![
                ("k".into(), Value::Text("v".into())),
                ("k2".into(), Value::Text("v".into())),
                ("flag".into(), Value::Other("java.lang.Boolean".into())),
            ]
        );
    }

    #[test]
    fn modified_utf8_nul_and_surrogate_pairs_decode() {
        // "a\0b" with Java's two-byte NUL, and U+1F511 (key emoji) as two 3-byte surrogates.
        assert_eq!(modified_utf8(&[b'a', 0xc0, 0x80, b'b']).unwrap(), "a\0b");
        let emoji = [0xed, 0xa0, 0xbd, 0xed, 0xb4, 0x91];
        assert_eq!(modified_utf8(&emoji).unwrap(), "\u{1f511}");
        assert_eq!(modified_utf8("Zürich 日本".as_bytes()).unwrap(), "Zürich 日本");
        assert_eq!(modified_utf8(&[0xed, 0xa0, 0xbd]), None, "a lone surrogate is refused");
        assert_eq!(modified_utf8(&[0xff]), None);
        let mut body = string(&emoji);
        body.extend(string(&[0xe0, 0x80]));
        let err = read_map(&stream(&body, 1)).unwrap_err();
        assert!(err.contains("not modified UTF-8"), "{err}");
    }

    #[test]
    fn damage_is_named_and_sizes_are_checked_against_the_file() {
        assert!(read_map(b"<map/>").unwrap_err().contains("no 0xACED0005 header"));
        let full = stream(&[string(b"k"), string(b"v")].concat(), 1);
        for cut in 4..full.len() - 1 {
            // Every truncation is an error (the final end-of-block marker is not needed).
            assert!(read_map(&full[..cut]).is_err(), "cut at {cut}");
        }
        // A map claiming four billion entries fails on the entries it lacks, without reserving.
        let err = read_map(&stream(&[], u32::MAX)).unwrap_err();
        assert!(err.contains("expected a string or value at byte 81, found code 0x78"), "{err}");
        // A long string claiming 2^62 bytes.
        let mut long = string(b"k");
        long.push(TC_LONGSTRING);
        long.extend((1_u64 << 62).to_be_bytes());
        let err = read_map(&stream(&long, 1)).unwrap_err();
        assert!(err.contains("longer than the file"), "{err}");
        // A dangling back-reference and a non-string key.
        let mut dangling = string(b"k");
        dangling.extend([TC_REFERENCE, 0x00, 0x7e, 0x00, 0x09]);
        assert!(read_map(&stream(&dangling, 1)).unwrap_err().contains("points at nothing"));
        let err = read_map(&stream(&[TC_NULL, TC_NULL], 1)).unwrap_err();
        assert!(err.contains("key 1 of the map is a null"), "{err}");
        // Another class than a HashMap.
        let mut other = stream(&[], 0);
        other[8] = b'X';
        assert!(read_map(&other).unwrap_err().contains("not a java.util.HashMap"));
    }

    #[test]
    fn deep_class_hierarchies_are_refused() {
        let mut body = string(b"k");
        body.push(TC_OBJECT);
        for _ in 0..=MAX_CLASS_DEPTH + 1 {
            body.extend([TC_CLASSDESC, 0x00, 0x01, b'C', 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0]);
            body.push(TC_ENDBLOCKDATA);
        }
        let err = read_map(&stream(&body, 1)).unwrap_err();
        assert!(err.contains("nested too deeply"), "{err}");
    }
}
