//! The plaintext encoding of [`VaultContent`] inside the AES-GCM envelope, per container
//! version: JSON for versions 1 and 2, a layout byte plus postcard for version 3 (see the
//! `format` module docs for the layout and its rules).
//!
//! postcard was chosen over JSON because decoding the JSON content (and the base64 around
//! it) was three quarters of `tessera code`'s work on a large vault; it is a maintained serde
//! format with a written specification (<https://postcard.jamesmunns.com/wire-format>), so the
//! layout is defined by the structs below plus that document.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::format::{CONTENT_LAYOUT, damaged};
use super::{BackupSettings, Entry, VaultContent, VaultError};
use crate::push::{PushAccount, PushHistoryItem};

/// Version-3 layout 2, as written. Changing its fields (or those of [`Entry`] and the types
/// inside it) changes the layout: bump [`CONTENT_LAYOUT`] and keep reading the old one.
///
/// Layout 2 added [`Entry::icon`] at the end of each entry; layout 1 is read through
/// [`EntryV1`].
#[derive(Serialize)]
struct LayoutOut<'a> {
    entries: &'a [Entry],
    backup: &'a Option<BackupSettings>,
    /// [`PushPart`] as JSON, or empty when there are no push accounts and no history.
    push: &'a str,
}

/// Version-3 layout 2 (entries as [`Entry`]) or layout 1 (entries as [`EntryV1`]), as read.
#[derive(Deserialize)]
struct LayoutIn<E> {
    entries: Vec<E>,
    backup: Option<BackupSettings>,
    push: Zeroizing<String>,
}

/// An entry as layout 1 wrote it: [`Entry`] without `icon`. postcard is not
/// self-describing, so the old field list is kept to read old vaults and backups.
#[derive(Serialize, Deserialize)]
struct EntryV1 {
    id: String,
    issuer: String,
    account: String,
    otp: crate::otp::OtpParams,
    note: String,
    group: Option<String>,
    favourite: bool,
    created: u64,
    last_used: Option<u64>,
}

impl From<EntryV1> for Entry {
    fn from(old: EntryV1) -> Self {
        let EntryV1 { id, issuer, account, otp, note, group, favourite, created, last_used } = old;
        Self { id, issuer, account, otp, note, group, favourite, created, last_used, icon: None }
    }
}

/// Layout 1's content read as layout 2's.
fn from_layout_1(old: LayoutIn<EntryV1>) -> LayoutIn<Entry> {
    let LayoutIn { entries, backup, push } = old;
    LayoutIn { entries: entries.into_iter().map(Entry::from).collect(), backup, push }
}

/// Reads one layout's content, refusing trailing bytes.
fn take<'de, T: Deserialize<'de>>(rest: &'de [u8]) -> Result<T, VaultError> {
    let (parsed, trailing): (T, _) = postcard::take_from_bytes(rest)
        .map_err(|e| damaged(format!("the decrypted content is not valid: {e}")))?;
    if !trailing.is_empty() {
        return Err(damaged(
            "the decrypted content is not valid: trailing bytes after the content",
        ));
    }
    Ok(parsed)
}

/// The push part, kept as JSON inside the binary layout (see the `format` module docs).
#[derive(Serialize)]
struct PushPartOut<'a> {
    push_accounts: &'a [PushAccount],
    push_history: &'a [PushHistoryItem],
}

#[derive(Deserialize)]
struct PushPartIn {
    push_accounts: Vec<PushAccount>,
    push_history: Vec<PushHistoryItem>,
}

/// Returns the version-3 plaintext of `content`.
pub(super) fn encode(content: &VaultContent) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let internal = |e: &dyn std::fmt::Display| VaultError::Internal {
        detail: format!("serialize content: {e}"),
    };
    let push = if content.push_accounts.is_empty() && content.push_history.is_empty() {
        Zeroizing::new(String::new())
    } else {
        let part = PushPartOut {
            push_accounts: &content.push_accounts,
            push_history: &content.push_history,
        };
        Zeroizing::new(serde_json::to_string(&part).map_err(|e| internal(&e))?)
    };
    let layout = LayoutOut { entries: &content.entries, backup: &content.backup, push: &push };
    // Sized first so that the plaintext is written once into a buffer that is wiped on drop
    // (a growing Vec would leave copies of the secrets behind in freed memory).
    let size = postcard::serialize_with_flavor(&layout, postcard::ser_flavors::Size::default())
        .map_err(|e| internal(&e))?;
    let mut plain = Zeroizing::new(vec![0u8; size + 1]);
    plain[0] = CONTENT_LAYOUT;
    postcard::to_slice(&layout, &mut plain[1..]).map_err(|e| internal(&e))?;
    Ok(plain)
}

/// Returns the version-3 plaintext of a content that holds only `entries` (no push part, no
/// backup settings): the content of a Tessera backup file (`transfer::tessera_backup`), which
/// shares the vault's layout so that one decoder reads both.
pub(super) fn encode_entries(entries: &[Entry]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let internal = |e: &dyn std::fmt::Display| VaultError::Internal {
        detail: format!("serialize content: {e}"),
    };
    let layout = LayoutOut { entries, backup: &None, push: "" };
    let size = postcard::serialize_with_flavor(&layout, postcard::ser_flavors::Size::default())
        .map_err(|e| internal(&e))?;
    let mut plain = Zeroizing::new(vec![0u8; size + 1]);
    plain[0] = CONTENT_LAYOUT;
    postcard::to_slice(&layout, &mut plain[1..]).map_err(|e| internal(&e))?;
    Ok(plain)
}

/// Decodes a decrypted plaintext written by a file of `version`.
pub(super) fn decode(version: u32, plain: &[u8]) -> Result<VaultContent, VaultError> {
    let invalid =
        |e: &dyn std::fmt::Display| damaged(format!("the decrypted content is not valid: {e}"));
    if version < 3 {
        // One UTF-8 check for the whole text is cheaper than serde_json's check per string.
        let text = std::str::from_utf8(plain).map_err(|_| invalid(&"not UTF-8"))?;
        return serde_json::from_str(text).map_err(|e| invalid(&e));
    }
    let (&layout, rest) = plain.split_first().ok_or_else(|| invalid(&"empty"))?;
    let parsed: LayoutIn<Entry> = match layout {
        CONTENT_LAYOUT => take(rest)?,
        1 => from_layout_1(take(rest)?),
        _ => return Err(invalid(&format!("unknown content layout {layout}"))),
    };
    let (push_accounts, push_history) = if parsed.push.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let part: PushPartIn = serde_json::from_str(&parsed.push).map_err(|e| invalid(&e))?;
        (part.push_accounts, part.push_history)
    };
    Ok(VaultContent { entries: parsed.entries, push_accounts, push_history, backup: parsed.backup })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::{OtpParams, Secret};

    #[test]
    fn content_round_trips_through_the_version_3_layout() {
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let mut entry = Entry::new("Issuer".into(), "me".into(), OtpParams::totp(secret), 1);
        entry.group = Some("work".into());
        entry.last_used = Some(7);
        let content = VaultContent { entries: vec![entry], ..VaultContent::default() };
        let plain = encode(&content).unwrap();
        assert_eq!(plain[0], CONTENT_LAYOUT);
        let back = decode(3, &plain).unwrap();
        assert_eq!(format!("{:?}", back.entries), format!("{:?}", content.entries));
    }

    #[test]
    fn every_icon_choice_round_trips_through_layout_2() {
        use crate::icons::IconChoice;
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let choices = [
            None,
            Some(IconChoice::Builtin("github".into())),
            Some(IconChoice::Pack {
                pack: "5d0c7c1e-3b5f-4c2a-9d8e-0f1a2b3c4d5e".into(),
                file: "a/B.png".into(),
            }),
            Some(IconChoice::Image(vec![0x89, b'P', b'N', b'G', 0, 255])),
            Some(IconChoice::Letter),
        ];
        let entries: Vec<Entry> = choices
            .iter()
            .map(|choice| {
                let mut entry =
                    Entry::new("Zoë Bank".into(), "me".into(), OtpParams::totp(secret.clone()), 1);
                entry.icon = choice.clone();
                entry
            })
            .collect();
        let content = VaultContent { entries, ..VaultContent::default() };
        let back = decode(3, &encode(&content).unwrap()).unwrap();
        let icons: Vec<_> = back.entries.into_iter().map(|e| e.icon).collect();
        assert_eq!(icons, choices);
    }

    /// Layout 1 as the build before icons wrote it: the same content struct with entries of
    /// [`EntryV1`]'s fields.
    #[derive(Serialize)]
    struct LayoutOut1<'a> {
        entries: &'a [EntryV1],
        backup: &'a Option<BackupSettings>,
        push: &'a str,
    }

    #[test]
    fn layout_1_content_reads_with_no_icon_choice() {
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let old = EntryV1 {
            id: "id-1".into(),
            issuer: "GitHub".into(),
            account: "me".into(),
            otp: OtpParams::totp(secret),
            note: "n".into(),
            group: Some("work".into()),
            favourite: true,
            created: 5,
            last_used: Some(9),
        };
        let layout = LayoutOut1 { entries: std::slice::from_ref(&old), backup: &None, push: "" };
        let mut plain = vec![1u8];
        plain.extend(postcard::to_allocvec(&layout).unwrap());
        let back = decode(3, &plain).unwrap();
        let entry = &back.entries[0];
        assert_eq!(
            (entry.id.as_str(), entry.issuer.as_str(), entry.note.as_str()),
            ("id-1", "GitHub", "n")
        );
        assert_eq!((entry.favourite, entry.created, entry.last_used), (true, 5, Some(9)));
        assert_eq!(entry.icon, None);
        assert_eq!(encode(&back).unwrap()[0], 2, "the next save writes layout 2");
    }

    #[test]
    fn unknown_layouts_and_trailing_bytes_are_damage() {
        let mut plain = encode(&VaultContent::default()).unwrap().to_vec();
        plain.push(0);
        assert!(matches!(decode(3, &plain), Err(VaultError::Damaged { .. })));
        plain[0] = 9;
        assert!(matches!(decode(3, &plain), Err(VaultError::Damaged { .. })));
    }
}
