//! The plaintext encoding of [`VaultContent`] inside the AES-GCM envelope, per container
//! version: JSON for versions 1 and 2, a layout byte plus postcard for version 3 (see the
//! `format` module docs for the layout and its rules).
//!
//! postcard was chosen over JSON because decoding the JSON content (and the base64 around
//! it) was three quarters of `tessera code`'s work on a large vault; it is a maintained serde
//! format with a written specification (<https://postcard.jamesmunns.com/wire-format>), so the
//! layout is defined by the structs below plus that document.
//!
//! Layouts:
//! - **1** is `{ entries, backup, push }`.
//! - **2** (recovery codes, see [`super::recovery`]) is layout 1 followed by one more
//!   postcard value, the recovery section: a sequence of `{ entry id, [ { code, used, added
//!   } ] }`, one item per account that has codes.
//! - **3** (service icons the user picked, see [`crate::icons`]) is layout 2 (its recovery
//!   section possibly empty) followed by the icon section: a sequence of `{ entry id, icon
//!   choice }`, one item per account whose icon was picked rather than matched.
//!
//! Each layout is written only when its section has something to carry, so a vault (or
//! backup) without codes or picked icons stays readable by builds that know layout 1 only.
//! The entries' own encoding is the same in every layout (codes and icons are not fields of
//! the encoded entry), so a later section, or a later field of [`Entry`], does not interfere
//! with the others.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

use super::format::{CONTENT_LAYOUT, ICON_LAYOUT, RECOVERY_LAYOUT, damaged};
use super::recovery::RecoveryCode;
use super::{BackupSettings, Entry, VaultContent, VaultError};
use crate::icons::IconChoice;
use crate::otp::{Algorithm, OtpKind};
use crate::push::{PushAccount, PushHistoryItem};

/// Version-3 layout 1, as written. Changing its fields (or those of [`Entry`] and the types
/// inside it) changes the layout: add a layout and keep reading the old ones.
#[derive(Serialize)]
struct LayoutOut<'a> {
    entries: &'a [Entry],
    backup: &'a Option<BackupSettings>,
    /// [`PushPart`] as JSON, or empty when there are no push accounts and no history.
    push: &'a str,
}

/// The push part, kept as JSON inside the binary layout (see the `format` module docs).
#[derive(Serialize)]
struct PushPartOut<'a> {
    push_accounts: &'a [PushAccount],
    push_history: &'a [PushHistoryItem],
}

/// Layout 2's recovery section: one account's codes, by its id.
#[derive(Serialize)]
struct RecoveryPartOut<'a> {
    entry: &'a str,
    codes: &'a [RecoveryCode],
}

#[derive(Deserialize)]
struct RecoveryPartIn {
    entry: String,
    codes: Vec<RecoveryCode>,
}

/// Layout 3's icon section: one account's picked icon, by its id.
#[derive(Serialize)]
struct IconPartOut<'a> {
    entry: &'a str,
    icon: &'a IconChoice,
}

#[derive(Deserialize)]
struct IconPartIn {
    entry: String,
    icon: IconChoice,
}

/// Returns the recovery section of `entries` (empty when no account has codes).
fn recovery_section(entries: &[Entry]) -> Vec<RecoveryPartOut<'_>> {
    entries
        .iter()
        .filter(|e| !e.recovery.is_empty())
        .map(|e| RecoveryPartOut { entry: &e.id, codes: &e.recovery })
        .collect()
}

/// Returns the icon section of `entries` (empty when no account has a picked icon).
fn icon_section(entries: &[Entry]) -> Vec<IconPartOut<'_>> {
    entries
        .iter()
        .filter_map(|e| e.icon.as_ref().map(|icon| IconPartOut { entry: &e.id, icon }))
        .collect()
}

/// Writes the layout byte and `body` (postcard) into one buffer sized first, so that the
/// plaintext is written once into memory that is wiped on drop (a growing Vec would leave
/// copies of the secrets behind in freed memory).
fn write_layout<T: Serialize>(layout: u8, body: &T) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let internal = |e: &dyn std::fmt::Display| VaultError::Internal {
        detail: format!("serialize content: {e}"),
    };
    let size = postcard::serialize_with_flavor(body, postcard::ser_flavors::Size::default())
        .map_err(|e| internal(&e))?;
    let mut plain = Zeroizing::new(vec![0u8; size + 1]);
    plain[0] = layout;
    postcard::to_slice(body, &mut plain[1..]).map_err(|e| internal(&e))?;
    Ok(plain)
}

/// Writes the lowest layout that carries everything: 1, 2 (with recovery codes) or 3 (with
/// picked icons).
fn write_content(layout: &LayoutOut<'_>) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let recovery = recovery_section(layout.entries);
    let icons = icon_section(layout.entries);
    if !icons.is_empty() {
        write_layout(ICON_LAYOUT, &(layout, recovery, icons))
    } else if !recovery.is_empty() {
        write_layout(RECOVERY_LAYOUT, &(layout, recovery))
    } else {
        write_layout(CONTENT_LAYOUT, layout)
    }
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
    write_content(&layout)
}

/// Returns the version-3 plaintext of a content that holds only `entries` (no push part, no
/// backup settings): the content of a Tessera backup file (`transfer::tessera_backup`), which
/// shares the vault's layout so that one decoder reads both.
pub(super) fn encode_entries(entries: &[Entry]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    write_content(&LayoutOut { entries, backup: &None, push: "" })
}

/// The error for a decrypted content that does not decode.
fn invalid(why: &dyn std::fmt::Display) -> VaultError {
    damaged(format!("the decrypted content is not valid: {why}"))
}

/// Reads one section (a postcard sequence) from the front of `bytes`; returns it and the rest.
fn section<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<(Vec<T>, &'de [u8]), VaultError> {
    postcard::take_from_bytes(bytes).map_err(|e| invalid(&e))
}

/// Which accounts a decode builds: a test of an encoded account's id, issuer and account
/// name, as UTF-8 bytes (checked; most names are ASCII, and testing those needs no `str`).
/// `None` builds every one.
pub(super) type Keep<'k> = Option<&'k dyn Fn(&[u8], &[u8], &[u8]) -> bool>;

/// The accounts of a layout, as read: those `Keep` admitted, built, and the ids of the others,
/// borrowed from the plaintext (a section may still name them).
struct Entries<'de> {
    kept: Vec<Entry>,
    passed: Vec<&'de [u8]>,
}

impl Entries<'_> {
    /// The kept entry with `id`, for a section's item; `None` when the item's account was
    /// passed over. A section naming an account the content does not hold is damage.
    fn owner(&mut self, id: &str, what: &str) -> Result<Option<&mut Entry>, VaultError> {
        if let Some(entry) = self.kept.iter_mut().find(|e| e.id == id) {
            return Ok(Some(entry));
        }
        if self.passed.contains(&id.as_bytes()) {
            return Ok(None);
        }
        Err(invalid(&format!("{what} for an account it does not hold")))
    }
}

/// Reads the layout's sequence of accounts one at a time, building only those `keep` admits.
///
/// Why by hand rather than `Vec<Entry>`'s derived reading: `tessera code QUERY` looks for one
/// account in what may be a thousand, and building every account (its strings, its base32
/// key) and dropping it again was most of the command's work. An account passed over is read
/// through with borrowed strings and no key decoding. The fields are read in the order
/// [`Entry`]'s derived `Serialize` writes them ([`ENTRY_FIELDS`]); every vault test that
/// reopens a saved vault reads through here, so a field added to `Entry` without being added
/// here fails them.
struct EntriesSeed<'k> {
    keep: Keep<'k>,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Entries<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of accounts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // The length comes from authenticated plaintext; capped all the same.
        let expected = seq.size_hint().unwrap_or(0).min(4096);
        let mut entries = Entries {
            kept: Vec::with_capacity(if self.keep.is_none() { expected } else { 0 }),
            passed: Vec::with_capacity(if self.keep.is_none() { 0 } else { expected }),
        };
        while seq.next_element_seed(EntrySeed { keep: self.keep, into: &mut entries })?.is_some() {}
        Ok(entries)
    }
}

/// [`Entry`]'s encoded fields, in order (its `recovery` and `icon` are sections of their own).
const ENTRY_FIELDS: &[&str] =
    &["id", "issuer", "account", "otp", "note", "group", "favourite", "created", "last_used"];

/// Reads one account into `into`: built into `kept`, or its id into `passed`.
struct EntrySeed<'k, 'a, 'de> {
    keep: Keep<'k>,
    into: &'a mut Entries<'de>,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct("Entry", ENTRY_FIELDS, self)
    }
}

/// The next field of an encoded struct, named for the error when it is missing.
fn field<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    name: &'static str,
) -> Result<T, A::Error> {
    seq.next_element()?.ok_or_else(|| de::Error::missing_field(name))
}

impl<'de> Visitor<'de> for EntrySeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an account")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Strings are read as their bytes (postcard writes a string as its bytes) so that
        // ASCII names, nearly all of them, skip the UTF-8 decoder; the others are checked.
        let names: [&'de [u8]; 3] =
            [field(&mut seq, "id")?, field(&mut seq, "issuer")?, field(&mut seq, "account")?];
        for name in names {
            if !name.is_ascii() && std::str::from_utf8(name).is_err() {
                return Err(de::Error::custom("an account's name is not UTF-8"));
            }
        }
        let [id, issuer, account] = names;
        if self.keep.is_some_and(|keep| !keep(id, issuer, account)) {
            // `OtpParams` (kind, secret, algorithm, digits, period, counter) with the key left
            // as it is written, then note, group, favourite, created, last_used. The key, note
            // and group are taken as bytes (postcard writes a string as its bytes): their
            // lengths and places are checked, their text is not, which only Tessera's own
            // encoder of Rust strings writes under the content's authentication.
            let _: (OtpKind, &'de [u8], Algorithm, u8, u64, u64) = field(&mut seq, "otp")?;
            let _: (&'de [u8], Option<&'de [u8]>, bool, u64, Option<u64>) = (
                field(&mut seq, "note")?,
                field(&mut seq, "group")?,
                field(&mut seq, "favourite")?,
                field(&mut seq, "created")?,
                field(&mut seq, "last_used")?,
            );
            self.into.passed.push(id);
            return Ok(());
        }
        let text = |name: &[u8]| String::from_utf8(name.to_vec()).map_err(de::Error::custom);
        self.into.kept.push(Entry {
            id: text(id)?,
            issuer: text(issuer)?,
            account: text(account)?,
            otp: field(&mut seq, "otp")?,
            note: field(&mut seq, "note")?,
            group: field(&mut seq, "group")?,
            favourite: field(&mut seq, "favourite")?,
            created: field(&mut seq, "created")?,
            last_used: field(&mut seq, "last_used")?,
            recovery: Vec::new(),
            icon: None,
        });
        Ok(())
    }
}

/// Decodes a decrypted plaintext written by a file of `version`.
pub(super) fn decode(version: u32, plain: &[u8]) -> Result<VaultContent, VaultError> {
    decode_where(version, plain, None)
}

/// Decodes a decrypted plaintext written by a file of `version`, building only the accounts
/// `keep` admits (all with `None`). The others are read through: the structure of the whole
/// content is checked as in a full decode (every field, the sections and what they name, no
/// trailing bytes), but the others are not built (see [`EntriesSeed`]).
pub(super) fn decode_where(
    version: u32,
    plain: &[u8],
    keep: Keep<'_>,
) -> Result<VaultContent, VaultError> {
    if version < 3 {
        // One UTF-8 check for the whole text is cheaper than serde_json's check per string.
        let text = std::str::from_utf8(plain).map_err(|_| invalid(&"not UTF-8"))?;
        let mut content: VaultContent = serde_json::from_str(text).map_err(|e| invalid(&e))?;
        if let Some(keep) = keep {
            content
                .entries
                .retain(|e| keep(e.id.as_bytes(), e.issuer.as_bytes(), e.account.as_bytes()));
        }
        return Ok(content);
    }
    let (&layout, rest) = plain.split_first().ok_or_else(|| invalid(&"empty"))?;
    if ![CONTENT_LAYOUT, RECOVERY_LAYOUT, ICON_LAYOUT].contains(&layout) {
        return Err(invalid(&format!("unknown content layout {layout}")));
    }
    // Layout 1 is the struct `{ entries, backup, push }` (see `LayoutOut`): its fields in turn.
    let mut body = postcard::Deserializer::from_bytes(rest);
    let mut entries = EntriesSeed { keep }.deserialize(&mut body).map_err(|e| invalid(&e))?;
    let (backup, push): (Option<BackupSettings>, Zeroizing<String>) =
        Deserialize::deserialize(&mut body).map_err(|e| invalid(&e))?;
    let mut trailing = body.finalize().map_err(|e| invalid(&e))?;
    if layout >= RECOVERY_LAYOUT {
        let (parts, rest) = section::<RecoveryPartIn>(trailing)?;
        trailing = rest;
        for part in parts {
            if let Some(entry) = entries.owner(&part.entry, "recovery codes")? {
                entry.recovery = part.codes;
            }
        }
    }
    if layout >= ICON_LAYOUT {
        let (parts, rest) = section::<IconPartIn>(trailing)?;
        trailing = rest;
        for part in parts {
            if let Some(entry) = entries.owner(&part.entry, "an icon")? {
                entry.icon = Some(part.icon);
            }
        }
    }
    if !trailing.is_empty() {
        return Err(invalid(&"trailing bytes after the content"));
    }
    let (push_accounts, push_history) = if push.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let part: PushPartIn = serde_json::from_str(&push).map_err(|e| invalid(&e))?;
        (part.push_accounts, part.push_history)
    };
    Ok(VaultContent { entries: entries.kept, push_accounts, push_history, backup })
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

    fn with_codes() -> VaultContent {
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let plain = Entry::new("Plain".into(), "me".into(), OtpParams::totp(secret.clone()), 1);
        let mut coded = Entry::new("Visma".into(), "me".into(), OtpParams::totp(secret), 2);
        coded.add_recovery_codes("AAAA-1111\nBBBB-2222", 3).unwrap();
        coded.mark_recovery_code(1, true, 4).unwrap();
        VaultContent { entries: vec![plain, coded], ..VaultContent::default() }
    }

    #[test]
    fn recovery_codes_round_trip_in_layout_2_and_stay_with_their_account() {
        let content = with_codes();
        let plain = encode(&content).unwrap();
        assert_eq!(plain[0], RECOVERY_LAYOUT);
        let back = decode(3, &plain).unwrap();
        assert!(back.entries[0].recovery.is_empty());
        assert_eq!(back.entries[1].recovery, content.entries[1].recovery);
        assert_eq!(back.entries[1].recovery[0].used, Some(4));
        let entries_only = encode_entries(&content.entries).unwrap();
        assert_eq!(entries_only[0], RECOVERY_LAYOUT, "backups carry the codes too");
        assert_eq!(decode(3, &entries_only).unwrap().entries[1].recovery.len(), 2);
    }

    #[test]
    fn content_without_codes_keeps_layout_1_byte_for_byte() {
        let coded_content = with_codes();
        let mut content = coded_content.clone();
        content.entries[1].recovery.clear();
        let plain = encode(&content).unwrap();
        assert_eq!(plain[0], CONTENT_LAYOUT, "older builds read it");
        // Layout 2 is layout 1 plus a section: the same content in both starts alike.
        let coded = encode(&coded_content).unwrap();
        assert!(coded.len() > plain.len());
        assert_eq!(coded[1..plain.len()], plain[1..]);
    }

    /// Decodes `content` after changing one byte of the last place its entry `index`'s id is
    /// written (in a layout with sections, that account's item in the last section).
    fn decode_with_last_id_changed(content: &VaultContent, index: usize) -> Result<(), VaultError> {
        let mut plain = encode(content).unwrap().to_vec();
        let id = content.entries[index].id.as_bytes();
        let at = plain.windows(id.len()).rposition(|w| w == id).unwrap();
        plain[at] ^= 1;
        decode(3, &plain).map(drop)
    }

    #[test]
    fn codes_for_an_unknown_account_are_damage() {
        let result = decode_with_last_id_changed(&with_codes(), 1);
        assert!(matches!(result, Err(VaultError::Damaged { .. })));
    }

    /// The debug text of every entry (secrets included: `Secret`'s Debug is redacted, so its
    /// base32 is added), to compare decodes field by field.
    fn fields(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|e| format!("{e:?} {}", e.otp.secret.to_base32().as_str())).collect()
    }

    #[test]
    fn a_filtered_decode_builds_exactly_the_admitted_accounts_with_their_sections() {
        let mut content = with_icons();
        content.entries[1].account = "alice@example.com".into();
        content.entries[1].add_recovery_codes("AAAA-1111", 2).unwrap();
        content.entries[2].add_recovery_codes("BBBB-2222", 3).unwrap();
        content.entries[3].note = "a note".into();
        content.entries[3].group = Some("work".into());
        content.entries[3].favourite = true;
        content.entries[3].last_used = Some(9);
        content.entries[3].otp.counter = 12;
        content.backup = Some(BackupSettings {
            folder: "/backups".into(),
            keep: 3,
            password: Zeroizing::new("backup password".into()),
        });
        let plain = encode(&content).unwrap();
        let all = decode(3, &plain).unwrap();
        assert_eq!(fields(&all.entries), fields(&content.entries));
        for wanted in [vec![], vec![1], vec![3], vec![0, 2, 4], vec![0, 1, 2, 3, 4]] {
            let ids: Vec<&str> = wanted.iter().map(|&i| content.entries[i].id.as_str()).collect();
            let keep = |id: &[u8], _: &[u8], _: &[u8]| ids.iter().any(|i| i.as_bytes() == id);
            let some = decode_where(3, &plain, Some(&keep)).unwrap();
            let expected: Vec<Entry> = wanted.iter().map(|&i| content.entries[i].clone()).collect();
            assert_eq!(fields(&some.entries), fields(&expected), "{wanted:?}");
            assert_eq!(format!("{:?}", some.backup), format!("{:?}", all.backup));
        }
        // The names reach the test before anything is built.
        let keep = |_: &[u8], issuer: &[u8], account: &[u8]| {
            issuer == "Zoë Bank".as_bytes() && account == b"alice@example.com"
        };
        assert_eq!(
            fields(&decode_where(3, &plain, Some(&keep)).unwrap().entries),
            fields(&all.entries[1..2])
        );
    }

    #[test]
    fn a_filtered_decode_finds_the_same_damage() {
        let content = with_codes();
        let mut plain = encode(&content).unwrap().to_vec();
        let id = content.entries[1].id.as_bytes();
        let at = plain.windows(id.len()).rposition(|w| w == id).unwrap();
        plain[at] ^= 1;
        let none = |_: &[u8], _: &[u8], _: &[u8]| false;
        let result = decode_where(3, &plain, Some(&none));
        assert!(matches!(result, Err(VaultError::Damaged { .. })), "codes for no account");
        let plain = encode(&content).unwrap();
        let result = decode_where(3, &plain[..plain.len() - 1], Some(&none));
        assert!(matches!(result, Err(VaultError::Damaged { .. })), "cut short");
        let mut longer = plain.to_vec();
        longer.push(0);
        let result = decode_where(3, &longer, Some(&none));
        assert!(matches!(result, Err(VaultError::Damaged { .. })), "trailing bytes");
        // A name that is not UTF-8 ("Zoë" with half its "ë"), in an account passed over.
        let mut plain = encode(&with_icons()).unwrap().to_vec();
        let at = plain.windows(2).position(|w| w == "ë".as_bytes()).unwrap();
        plain[at + 1] = b'x';
        assert!(matches!(decode(3, &plain), Err(VaultError::Damaged { .. })));
        let result = decode_where(3, &plain, Some(&none));
        assert!(matches!(result, Err(VaultError::Damaged { .. })), "not UTF-8");
    }

    fn icon_choices() -> [Option<IconChoice>; 5] {
        [
            None,
            Some(IconChoice::Builtin("github".into())),
            Some(IconChoice::Pack {
                pack: "5d0c7c1e-3b5f-4c2a-9d8e-0f1a2b3c4d5e".into(),
                file: "a/B.png".into(),
            }),
            Some(IconChoice::Image(vec![0x89, b'P', b'N', b'G', 0, 255])),
            Some(IconChoice::Letter),
        ]
    }

    fn with_icons() -> VaultContent {
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let entries = icon_choices()
            .into_iter()
            .map(|choice| {
                let mut entry =
                    Entry::new("Zoë Bank".into(), "me".into(), OtpParams::totp(secret.clone()), 1);
                entry.icon = choice;
                entry
            })
            .collect();
        VaultContent { entries, ..VaultContent::default() }
    }

    #[test]
    fn every_icon_choice_round_trips_through_layout_3() {
        let content = with_icons();
        let plain = encode(&content).unwrap();
        assert_eq!(plain[0], ICON_LAYOUT);
        let back = decode(3, &plain).unwrap();
        let icons: Vec<_> = back.entries.into_iter().map(|e| e.icon).collect();
        assert_eq!(icons, icon_choices());
        let entries_only = encode_entries(&content.entries).unwrap();
        assert_eq!(entries_only[0], ICON_LAYOUT, "backups carry picked icons too");
    }

    #[test]
    fn icons_and_codes_travel_together_and_leave_the_entries_encoding_alone() {
        let mut content = with_icons();
        content.entries[2].add_recovery_codes("CCCC-3333", 5).unwrap();
        let plain = encode(&content).unwrap();
        assert_eq!(plain[0], ICON_LAYOUT);
        let back = decode(3, &plain).unwrap();
        assert_eq!(back.entries[2].recovery, content.entries[2].recovery);
        assert_eq!(back.entries[2].icon, icon_choices()[2]);
        // Without icons and codes the same content is layout 1, and it is the start of layout 3.
        let mut bare = content.clone();
        for entry in &mut bare.entries {
            entry.icon = None;
            entry.recovery.clear();
        }
        let bare = encode(&bare).unwrap();
        assert_eq!(bare[0], CONTENT_LAYOUT, "older builds read a vault without picked icons");
        assert_eq!(plain[1..bare.len()], bare[1..]);
    }

    #[test]
    fn an_icon_for_an_unknown_account_is_damage() {
        let result = decode_with_last_id_changed(&with_icons(), 4);
        assert!(matches!(result, Err(VaultError::Damaged { .. })));
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
