//! Android shared-preferences XML, the container several apps keep their accounts in (Authy,
//! FreeOTP, Battle.net, TOTP Authenticator).
//!
//! Source: Android's `SharedPreferencesImpl` writes `XmlUtils.writeMapXml`: a `<map>` root whose
//! children are `<string name="...">text</string>`, `<int name=".." value=".."/>`, `<long>`,
//! `<boolean>`, `<float>` and `<set>`. Only `<string>` values carry accounts; the rest are kept as
//! their `value` attribute so callers can read flags. Parsed with `roxmltree` (no DTDs, no
//! external entities: a crafted file cannot make us fetch or expand anything).

use super::{Format, TransferError};

/// One preference: its name and its text (a `<string>`'s content, or another type's `value`).
#[derive(Debug)]
pub(crate) struct Pref {
    pub(crate) name: String,
    pub(crate) value: String,
    /// True for a `<string>`, false for the other types.
    pub(crate) is_string: bool,
}

/// Reads every preference of a `<map>` document.
pub(crate) fn read(text: &str, format: Format) -> Result<Vec<Pref>, TransferError> {
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
        .map_err(|e| TransferError::corrupt(format, format!("not readable XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "map" {
        return Err(TransferError::corrupt(
            format,
            format!("the root element is <{}>, not Android's <map>", root.tag_name().name()),
        ));
    }
    Ok(root
        .children()
        .filter(roxmltree::Node::is_element)
        .filter_map(|node| {
            let name = node.attribute("name")?.to_owned();
            let is_string = node.tag_name().name() == "string";
            let value = if is_string {
                node.text().unwrap_or_default().to_owned()
            } else {
                node.attribute("value")?.to_owned()
            };
            Some(Pref { name, value, is_string })
        })
        .collect())
}

/// Returns the value of the preference `name`, if present.
pub(crate) fn find<'a>(prefs: &'a [Pref], name: &str) -> Option<&'a str> {
    prefs.iter().find(|p| p.name == name).map(|p| p.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_typed_values_are_read() {
        let xml = r#"<?xml version='1.0' encoding='utf-8' standalone='yes' ?>
<map>
    <string name="a">[{&quot;x&quot;:1}]</string>
    <int name="n" value="3" />
    <boolean name="b" value="true" />
    <string name="empty"></string>
</map>"#;
        let prefs = read(xml, Format::Authy).unwrap();
        assert_eq!(find(&prefs, "a"), Some(r#"[{"x":1}]"#));
        assert_eq!(find(&prefs, "n"), Some("3"));
        assert_eq!(find(&prefs, "b"), Some("true"));
        assert!(prefs[0].is_string && !prefs[2].is_string);
        assert_eq!(find(&prefs, "empty"), Some(""));
        assert_eq!(super::super::detect_prefs(xml), None);
    }

    #[test]
    fn other_xml_and_entities_are_refused() {
        let err = read("<html><body/></html>", Format::Authy).unwrap_err();
        assert!(err.to_string().contains("<html>"), "{err}");
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">]><map><string name="x">&a;</string></map>"#;
        // roxmltree expands internal entities with a depth and count limit; no external ones.
        let _ = read(bomb, Format::Authy);
        assert!(read("<map><string name=", Format::Authy).is_err());
    }
}
