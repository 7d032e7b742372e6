//! Service icons: which icon an account shows, from its issuer and the hints of its link.
//!
//! Tessera bundles a curated subset of [Simple Icons](https://simpleicons.org) (CC0-1.0:
//! `assets/service-icons/`, made by `scripts/service-icons.py` from a pinned, checksummed npm
//! release; the build never needs the network). This module knows the subset's names
//! ([`builtin`], read from its `index.tsv`) and matches issuers against them and against the
//! icons of imported Aegis icon packs ([`pack`]); the app renders the SVGs. It is pure: no
//! file is read here except by [`pack`], and nothing links a GUI toolkit.
//!
//! # Matching ([`Catalogue::find`])
//!
//! Names are compared [`normalize`]d: Unicode-decomposed with the accents dropped, lower
//! case, letters and digits only ("Zoë Bank", "zoe bank" and "ZOEBANK" are one name). In
//! order, the first hit wins:
//!
//! 1. the whole issuer ("Proton Mail", "GitHub");
//! 2. an issuer that is a domain ("accounts.google.com") by its labels, right to left,
//!    without the top-level one;
//! 3. the longest leading run of the issuer's words ("Google Workspace" is Google), if that
//!    run is at least [`MIN_PREFIX_CHARS`] characters long, so that short names ("X", "EA",
//!    "Line") only ever match exactly;
//! 4. the otpauth `image` hint (a URL some services put in their links): its host's labels,
//!    then the file name without extension ("…/icons/github.png").
//!
//! Icons of imported packs win over the bundled ones for the same name: the user chose them.
//! An account's stored [`IconChoice`] (picked in the details screen) overrides all this.

pub mod pack;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The bundled set's index, generated with the SVGs (slug, title, colour, aliases).
const INDEX: &str = include_str!("../../../../assets/service-icons/index.tsv");

/// Word-prefix matches (rule 3) need at least this many normalized characters.
pub const MIN_PREFIX_CHARS: usize = 5;

/// The icon an account shows, as stored with it in the vault. No choice (`None` in
/// [`crate::vault::Entry::icon`]) means "match automatically".
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IconChoice {
    /// An icon of the bundled set, by its slug ("github").
    Builtin(String),
    /// An icon of an imported icon pack: the pack's uuid and the icon's file in it.
    Pack {
        /// The pack's uuid (`pack.json`'s `uuid`).
        pack: String,
        /// The icon's file name inside the pack (`filename`).
        file: String,
    },
    /// An image the user picked, kept in the vault (the app stores a small PNG).
    Image(Vec<u8>),
    /// The letter avatar, chosen explicitly: no automatic icon.
    Letter,
}

impl std::fmt::Debug for IconChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Builtin(slug) => write!(f, "Builtin({slug})"),
            Self::Pack { pack, file } => write!(f, "Pack({pack}/{file})"),
            Self::Image(bytes) => write!(f, "Image({} bytes)", bytes.len()),
            Self::Letter => write!(f, "Letter"),
        }
    }
}

/// One icon of the bundled set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinIcon {
    /// Simple Icons' slug, also the SVG's file name ("github" for `github.svg`).
    pub slug: &'static str,
    /// The brand's name ("GitHub").
    pub title: &'static str,
    /// The brand colour, RGB.
    pub colour: (u8, u8, u8),
    /// Other names of the brand.
    pub aliases: Vec<&'static str>,
}

/// Returns the catalogue of the bundled icons alone (built once).
pub fn builtin_catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(Catalogue::builtin)
}

/// Returns the bundled icons, in slug order (parsed once).
pub fn builtin() -> &'static [BuiltinIcon] {
    static ICONS: OnceLock<Vec<BuiltinIcon>> = OnceLock::new();
    ICONS.get_or_init(|| INDEX.lines().filter_map(parse_index_line).collect())
}

/// Returns the bundled icon with this slug.
pub fn builtin_icon(slug: &str) -> Option<&'static BuiltinIcon> {
    builtin().binary_search_by(|icon| icon.slug.cmp(slug)).ok().map(|i| &builtin()[i])
}

fn parse_index_line(line: &'static str) -> Option<BuiltinIcon> {
    if line.starts_with('#') {
        return None;
    }
    let mut fields = line.split('\t');
    let (slug, title, hex) = (fields.next()?, fields.next()?, fields.next()?);
    let aliases = fields.next().unwrap_or("").split('|').filter(|a| !a.is_empty()).collect();
    let value = u32::from_str_radix(hex, 16).ok()?;
    let colour = ((value >> 16) as u8, (value >> 8) as u8, value as u8);
    Some(BuiltinIcon { slug, title, colour, aliases })
}

/// Returns `name` folded for comparison: accents dropped (after canonical decomposition),
/// lower case, only letters and digits kept.
pub fn normalize(name: &str) -> String {
    name.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// What a link says about its account's icon, besides the issuer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// The issuer (the otpauth `issuer` parameter, or the label's prefix).
    pub issuer: &'a str,
    /// The otpauth `image` parameter: a URL of the service's logo.
    pub image: Option<&'a str>,
}

impl<'a> Hints<'a> {
    /// Returns the hints of an account with this issuer and these link parameters (the
    /// `image` parameter is looked up case-insensitively).
    pub fn from_link(issuer: &'a str, extra: &'a [(String, String)]) -> Self {
        let image =
            extra.iter().find(|(name, _)| name.eq_ignore_ascii_case("image")).map(|(_, v)| &**v);
        Self { issuer, image }
    }
}

/// The icons an issuer can match: the bundled set plus imported packs, by normalized name.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    names: HashMap<String, IconChoice>,
}

impl Catalogue {
    /// Returns a catalogue of the bundled icons (slugs, titles and aliases).
    pub fn builtin() -> Self {
        let mut catalogue = Self::default();
        for icon in builtin() {
            let choice = IconChoice::Builtin(icon.slug.to_owned());
            for name in [icon.slug, icon.title].into_iter().chain(icon.aliases.iter().copied()) {
                catalogue.names.entry(normalize(name)).or_insert_with(|| choice.clone());
            }
        }
        catalogue
    }

    /// Adds icons under the given names; they replace bundled icons of the same names.
    pub fn add<'n>(&mut self, names: impl IntoIterator<Item = &'n str>, choice: &IconChoice) {
        for name in names {
            let key = normalize(name);
            if !key.is_empty() {
                self.names.insert(key, choice.clone());
            }
        }
    }

    /// Returns the icon for an exactly matching (normalized) name.
    pub fn exact(&self, name: &str) -> Option<&IconChoice> {
        self.names.get(&normalize(name))
    }

    /// Returns the icon that matches these hints (see the module docs for the rules), or
    /// `None` when nothing does (the letter avatar then shows).
    pub fn find(&self, hints: Hints<'_>) -> Option<IconChoice> {
        let issuer = hints.issuer.trim();
        if let Some(found) = self.exact(issuer) {
            return Some(found.clone());
        }
        if let Some(found) = self.by_domain(issuer) {
            return Some(found.clone());
        }
        if let Some(found) = self.by_leading_words(issuer) {
            return Some(found.clone());
        }
        let image = hints.image.map(str::trim).filter(|i| !i.is_empty())?;
        self.by_image(image).cloned()
    }

    /// Returns the icon to store with a new account whose link gave these hints: one that
    /// only the `image` hint finds. An account whose issuer matches is left on automatic
    /// (no stored choice), so that it follows later icon packs and renames.
    pub fn choice_for_new(&self, hints: Hints<'_>) -> Option<IconChoice> {
        hints.image?;
        if self.find(Hints { image: None, ..hints }).is_some() {
            return None;
        }
        self.find(hints)
    }

    /// Rule 2: "accounts.google.com" by "google", then "accounts".
    fn by_domain(&self, text: &str) -> Option<&IconChoice> {
        if text.contains(char::is_whitespace) || !text.contains('.') {
            return None;
        }
        let labels: Vec<&str> = text.split('.').filter(|l| !l.is_empty()).collect();
        let (_, named) = labels.split_last()?;
        named.iter().rev().filter(|l| **l != "www").find_map(|label| self.exact(label))
    }

    /// Rule 3: the longest leading run of words that names an icon and is long enough.
    fn by_leading_words(&self, issuer: &str) -> Option<&IconChoice> {
        let words: Vec<&str> = issuer.split_whitespace().collect();
        (1..words.len()).rev().find_map(|count| {
            let key = normalize(&words[..count].concat());
            if key.chars().count() >= MIN_PREFIX_CHARS { self.names.get(&key) } else { None }
        })
    }

    /// Rule 4: the image URL's host, then its file name.
    fn by_image(&self, url: &str) -> Option<&IconChoice> {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.rsplit('@').next().unwrap_or(host);
        let host = host.split(':').next().unwrap_or(host);
        if let Some(found) = self.by_domain(host) {
            return Some(found);
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let file = path.rsplit('/').next().unwrap_or(path);
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        self.names.get(&normalize(stem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_slug(choice: Option<IconChoice>) -> Option<String> {
        match choice {
            Some(IconChoice::Builtin(slug)) => Some(slug),
            _ => None,
        }
    }

    fn find(issuer: &str) -> Option<String> {
        builtin_slug(Catalogue::builtin().find(Hints { issuer, image: None }))
    }

    #[test]
    fn the_bundled_index_is_read_whole_and_sorted_for_lookup() {
        let icons = builtin();
        assert!(icons.len() > 300, "{}", icons.len());
        assert!(icons.windows(2).all(|w| w[0].slug < w[1].slug), "binary search needs order");
        let github = builtin_icon("github").expect("github is bundled");
        assert_eq!((github.title, github.colour), ("GitHub", (0x18, 0x17, 0x17)));
        assert!(builtin_icon("no-such-icon").is_none());
    }

    #[test]
    fn normalizing_drops_accents_case_spaces_and_punctuation() {
        assert_eq!(normalize("Zoë Bank"), "zoebank");
        assert_eq!(normalize("  ZOE-bank. "), "zoebank");
        assert_eq!(normalize("Coöperatie Ñandú"), "cooperatienandu");
        assert_eq!(normalize("1&1"), "11");
    }

    #[test]
    fn an_issuer_matches_whatever_its_case_spacing_and_accents() {
        for spelling in ["GitHub", "github", "  GITHUB ", "Git Hub", "Gït-Hüb"] {
            assert_eq!(find(spelling).as_deref(), Some("github"), "{spelling}");
        }
        assert_eq!(find("Proton Mail").as_deref(), Some("protonmail"));
        assert_eq!(find("protonmail").as_deref(), Some("protonmail"));
    }

    #[test]
    fn an_accented_issuer_matches_a_pack_icon_named_without_accents() {
        let mut catalogue = Catalogue::builtin();
        let zoe = IconChoice::Pack { pack: "p".into(), file: "zoe.png".into() };
        catalogue.add(["zoe bank"], &zoe);
        for spelling in ["Zoë Bank", "ZOË BANK", "zoebank", " Zoe  Bank "] {
            assert_eq!(catalogue.find(Hints { issuer: spelling, image: None }), Some(zoe.clone()));
        }
        assert_eq!(catalogue.find(Hints { issuer: "Zoë", image: None }), None);
    }

    #[test]
    fn domains_and_leading_words_match_but_short_names_only_exactly() {
        assert_eq!(find("accounts.google.com").as_deref(), Some("google"));
        assert_eq!(find("www.github.com").as_deref(), Some("github"));
        assert_eq!(find("Google Workspace").as_deref(), Some("google"));
        assert_eq!(find("Proton Mail Bridge").as_deref(), Some("protonmail"), "longest run");
        assert_eq!(find("X").as_deref(), Some("x"));
        assert_eq!(find("X Corp Bank"), None, "a short first word is no prefix match");
        assert_eq!(find("Example Corp"), None);
        assert_eq!(find(""), None);
    }

    #[test]
    fn the_image_hint_names_the_icon_when_the_issuer_does_not() {
        let catalogue = Catalogue::builtin();
        let extra =
            vec![("image".to_owned(), "https://cdn.example.org/logos/GitLab.png".to_owned())];
        let hints = Hints::from_link("ACME Intranet", &extra);
        assert_eq!(hints.image, Some("https://cdn.example.org/logos/GitLab.png"));
        assert_eq!(builtin_slug(catalogue.find(hints)).as_deref(), Some("gitlab"));
        let by_host =
            Hints { issuer: "ACME", image: Some("https://static.mastodon.example/a.png") };
        assert_eq!(builtin_slug(catalogue.find(by_host)).as_deref(), Some("mastodon"));
        let issuer_first = Hints { issuer: "GitHub", image: Some("https://x.example/gitlab.png") };
        assert_eq!(builtin_slug(catalogue.find(issuer_first)).as_deref(), Some("github"));
        let nothing = Hints { issuer: "ACME", image: Some("https://acme.example/logo.png") };
        assert_eq!(catalogue.find(nothing), None);
    }

    #[test]
    fn only_an_icon_found_through_the_image_hint_is_stored_with_a_new_account() {
        let catalogue = builtin_catalogue();
        let image = Some("https://img.example/gitlab.svg");
        let stored = catalogue.choice_for_new(Hints { issuer: "ACME", image });
        assert_eq!(stored, Some(IconChoice::Builtin("gitlab".into())));
        assert_eq!(catalogue.choice_for_new(Hints { issuer: "GitHub", image }), None);
        assert_eq!(catalogue.choice_for_new(Hints { issuer: "ACME", image: None }), None);
    }

    #[test]
    fn pack_icons_win_over_bundled_ones_of_the_same_name() {
        let mut catalogue = Catalogue::builtin();
        let mine = IconChoice::Pack { pack: "p".into(), file: "GitHub.svg".into() };
        catalogue.add(["github"], &mine);
        assert_eq!(catalogue.find(Hints { issuer: "GitHub", image: None }), Some(mine));
    }
}
