//! Service icons in the app: which icon each account shows (over the core's matching), the
//! imported Aegis icon packs, and rendering an icon to pixels.
//!
//! Everything is lazy so that start-up does not pay for icons: the catalogue (the bundled
//! names plus the packs' `pack.json` files) is built on the first list rebuild after an
//! unlock, and an icon is rendered only when a visible row asks for it (the accounts screen
//! caches the result per icon and size). The bundled SVGs are compiled into the binary
//! (`build.rs` writes the table from `assets/service-icons/`), so nothing is read from disk
//! for them.
//!
//! A bundled icon is drawn like the letter avatar it replaces: a disc in the brand's colour
//! with the logo in white (black on light brand colours). A pack icon or a custom image fills
//! the disc. Measured with `scripts/gui-perf.sh` (200 accounts, software renderer): see the
//! README's figures.

use std::cell::{Ref, RefCell};
use std::path::{Path, PathBuf};

use resvg::tiny_skia::{
    FillRule, FilterQuality, IntSize, Paint, PathBuilder, Pattern, Pixmap, SpreadMode, Transform,
};
use tessera_core::icons::{Catalogue, Hints, IconChoice, builtin_catalogue, builtin_icon, pack};
use tessera_core::vault::Entry;

use crate::render::{draw_centred, svg_pixmap};

include!(concat!(env!("OUT_DIR"), "/service_icons.rs"));

/// The folder under the data directory that holds imported icon packs.
pub const PACKS_DIR: &str = "icon-packs";
/// The side of a custom image as stored in the vault, in pixels (PNG).
pub const STORED_IMAGE_SIDE: u32 = 96;
/// The largest image file the user may pick (it is scaled down before it is stored).
pub const MAX_IMAGE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Returns the SVG of a bundled icon.
pub fn builtin_svg(slug: &str) -> Option<&'static [u8]> {
    SERVICE_ICONS.binary_search_by(|(s, _)| s.cmp(&slug)).ok().map(|i| SERVICE_ICONS[i].1)
}

/// The icons the app knows: the bundled set and the imported packs.
pub struct ServiceIcons {
    packs_dir: PathBuf,
    catalogue: RefCell<Option<Catalogue>>,
}

impl ServiceIcons {
    /// Icons with imported packs kept in `home/icon-packs`; nothing is read yet.
    pub fn new(home: &Path) -> Self {
        Self { packs_dir: home.join(PACKS_DIR), catalogue: RefCell::new(None) }
    }

    /// The folder of imported packs.
    pub fn packs_dir(&self) -> &Path {
        &self.packs_dir
    }

    /// Returns the catalogue, reading the packs on first use.
    pub fn catalogue(&self) -> Ref<'_, Catalogue> {
        if self.catalogue.borrow().is_none() {
            let mut catalogue = builtin_catalogue().clone();
            for pack in pack::load_all(&self.packs_dir) {
                pack.add_to(&mut catalogue);
            }
            *self.catalogue.borrow_mut() = Some(catalogue);
        }
        Ref::map(self.catalogue.borrow(), |c| match c {
            Some(catalogue) => catalogue,
            None => builtin_catalogue(),
        })
    }

    /// Forgets the catalogue (after a pack import) so that the next use reads it again.
    pub fn reload(&self) {
        *self.catalogue.borrow_mut() = None;
    }

    /// Returns the icon `entry` shows: its stored choice, or the one its issuer matches;
    /// `None` for the letter avatar.
    pub fn for_entry(&self, entry: &Entry) -> Option<IconChoice> {
        self.shown(&entry.issuer, entry.icon.as_ref())
    }

    /// Returns the icon an account with this issuer shows with the stored (or pending)
    /// `choice`; `None` for the letter avatar.
    pub fn shown(&self, issuer: &str, choice: Option<&IconChoice>) -> Option<IconChoice> {
        match choice {
            Some(IconChoice::Letter) => None,
            Some(choice) => Some(choice.clone()),
            None => self.catalogue().find(Hints { issuer, image: None }),
        }
    }

    /// Returns the icon a user's search text in the details screen names (an exact or
    /// leading-words match, as for issuers).
    pub fn search(&self, text: &str) -> Option<IconChoice> {
        self.catalogue().find(Hints { issuer: text, image: None })
    }

    /// Renders `choice` as a `side`×`side` disc, premultiplied RGBA; `None` if its file or
    /// data cannot be read (the letter avatar shows instead).
    pub fn render(&self, choice: &IconChoice, side: u32) -> Option<Pixmap> {
        match choice {
            IconChoice::Builtin(slug) => render_builtin(slug, side),
            IconChoice::Pack { pack, file } => {
                let path = pack::icon_path(&self.packs_dir, pack, file)?;
                let bytes = std::fs::read(&path).ok()?;
                let is_svg = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
                let picture = if is_svg { svg_pixmap(&bytes, side)? } else { raster(&bytes)? };
                Some(disc_of(&picture, side))
            }
            IconChoice::Image(bytes) => Some(disc_of(&raster(bytes)?, side)),
            IconChoice::Letter => None,
        }
    }
}

impl super::Model {
    /// Imports the Aegis icon pack at `path` (see [`pack::import`]) and rebuilds the list so
    /// that its icons show at once.
    pub fn import_icon_pack(&self, path: &Path) -> Result<pack::IconPack, pack::PackError> {
        self.touch();
        let file = std::fs::File::open(path)?;
        let icons = self.icons();
        let imported = pack::import(std::io::BufReader::new(file), icons.packs_dir())?;
        icons.reload();
        self.rebuild_list();
        Ok(imported)
    }
}

/// Why a picked image cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file cannot be read.
    #[error("{0}")]
    Read(#[from] std::io::Error),
    /// Over [`MAX_IMAGE_FILE_BYTES`].
    #[error("the file is larger than {} MB", MAX_IMAGE_FILE_BYTES / 1024 / 1024)]
    TooLarge,
    /// Not an image this build decodes.
    #[error("not a PNG, JPEG, WebP, GIF or BMP image")]
    NotAnImage,
}

/// Reads an image file the user picked and returns it as the small PNG stored in the vault
/// ([`STORED_IMAGE_SIDE`] square, centre-cropped).
pub fn image_for_vault(path: &Path) -> Result<Vec<u8>, ImageError> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_IMAGE_FILE_BYTES {
        return Err(ImageError::TooLarge);
    }
    let bytes = std::fs::read(path)?;
    let image = image::load_from_memory(&bytes).map_err(|_| ImageError::NotAnImage)?;
    let side = STORED_IMAGE_SIDE;
    let square = image.resize_to_fill(side, side, image::imageops::FilterType::Lanczos3);
    let mut png = Vec::new();
    square
        .to_rgba8()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|_| ImageError::NotAnImage)?;
    Ok(png)
}

/// A bundled icon: the logo in white (or black) on a disc of the brand colour.
fn render_builtin(slug: &str, side: u32) -> Option<Pixmap> {
    let icon = builtin_icon(slug)?;
    let svg = builtin_svg(slug)?;
    let (r, g, b) = icon.colour;
    // Relative luminance (sRGB weights, no linearisation: enough to pick black or white).
    let light = 0.2126 * f32::from(r) + 0.7152 * f32::from(g) + 0.0722 * f32::from(b) > 170.0;
    let ink = if light { "#000000" } else { "#ffffff" };
    let text =
        std::str::from_utf8(svg).ok()?.replacen("<svg ", &format!("<svg fill=\"{ink}\" "), 1);
    let tree =
        resvg::usvg::Tree::from_data(text.as_bytes(), &resvg::usvg::Options::default()).ok()?;

    let mut pixmap = Pixmap::new(side, side)?;
    let mut paint = Paint::default();
    paint.set_color_rgba8(r, g, b, 255);
    paint.anti_alias = true;
    let radius = side as f32 / 2.0;
    let disc = PathBuilder::from_circle(radius, radius, radius)?;
    pixmap.fill_path(&disc, &paint, FillRule::Winding, Transform::identity(), None);
    // The logo in the middle 55 % of the disc, as the letter avatar's initial.
    draw_centred(&tree, side as f32 * 0.55, &mut pixmap);
    Some(pixmap)
}

/// Decodes a PNG or JPEG (any format the image crate was built with) to a pixmap.
fn raster(bytes: &[u8]) -> Option<Pixmap> {
    let image = image::load_from_memory(bytes).ok()?.to_rgba8();
    let (width, height) = image.dimensions();
    let mut data = image.into_raw();
    for pixel in data.chunks_exact_mut(4) {
        let alpha = u16::from(pixel[3]);
        for channel in &mut pixel[..3] {
            *channel = ((u16::from(*channel) * alpha + 127) / 255) as u8;
        }
    }
    Pixmap::from_vec(data, IntSize::from_wh(width, height)?)
}

/// Returns `picture` scaled to cover a `side`-pixel disc and clipped to it.
fn disc_of(picture: &Pixmap, side: u32) -> Pixmap {
    let Some(mut out) = Pixmap::new(side, side) else { return picture.clone() };
    let scale = side as f32 / picture.width().min(picture.height()) as f32;
    let (dx, dy) = (
        (side as f32 - picture.width() as f32 * scale) / 2.0,
        (side as f32 - picture.height() as f32 * scale) / 2.0,
    );
    let paint = Paint {
        anti_alias: true,
        shader: Pattern::new(
            picture.as_ref(),
            SpreadMode::Pad,
            FilterQuality::Bicubic,
            1.0,
            Transform::from_row(scale, 0.0, 0.0, scale, dx, dy),
        ),
        ..Paint::default()
    };
    let radius = side as f32 / 2.0;
    if let Some(disc) = PathBuilder::from_circle(radius, radius, radius) {
        out.fill_path(&disc, &paint, FillRule::Winding, Transform::identity(), None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::otp::{OtpParams, Secret};

    fn entry(issuer: &str) -> Entry {
        let otp = OtpParams::totp(Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap());
        Entry::new(issuer.into(), "me".into(), otp, 1)
    }

    /// The pixel at (x, y), premultiplied RGBA.
    fn pixel(pixmap: &Pixmap, x: u32, y: u32) -> [u8; 4] {
        let p = pixmap.pixel(x, y).unwrap();
        [p.red(), p.green(), p.blue(), p.alpha()]
    }

    #[test]
    fn every_bundled_icon_has_its_svg_compiled_in_and_renders() {
        let home = tempfile::tempdir().unwrap();
        let icons = ServiceIcons::new(home.path());
        assert_eq!(SERVICE_ICONS.len(), tessera_core::icons::builtin().len());
        for icon in tessera_core::icons::builtin() {
            let pixmap = icons.render(&IconChoice::Builtin(icon.slug.into()), 40);
            let pixmap = pixmap.unwrap_or_else(|| panic!("{} does not render", icon.slug));
            assert_eq!(pixel(&pixmap, 0, 0)[3], 0, "{}: corners stay clear", icon.slug);
        }
    }

    #[test]
    fn a_bundled_icon_is_a_brand_coloured_disc_with_a_white_logo() {
        let pixmap = render_builtin("github", 80).unwrap();
        let (r, g, b) = builtin_icon("github").unwrap().colour;
        // Just inside the disc's edge, outside the logo: the brand colour.
        assert_eq!(pixel(&pixmap, 40, 3), [r, g, b, 255]);
        let white = pixmap.pixels().iter().filter(|p| p.red() > 240 && p.alpha() == 255).count();
        assert!(white > 300, "the logo is drawn in white ({white} pixels)");
    }

    #[test]
    fn known_issuers_get_their_icon_and_a_stored_choice_wins() {
        let home = tempfile::tempdir().unwrap();
        let icons = ServiceIcons::new(home.path());
        assert_eq!(icons.for_entry(&entry("GitHub")), Some(IconChoice::Builtin("github".into())));
        assert_eq!(icons.for_entry(&entry("Zoë Bank")), None);
        let mut letter = entry("GitHub");
        letter.icon = Some(IconChoice::Letter);
        assert_eq!(icons.for_entry(&letter), None, "the letter, as chosen");
        let mut other = entry("GitHub");
        other.icon = Some(IconChoice::Builtin("gitlab".into()));
        assert_eq!(icons.for_entry(&other), Some(IconChoice::Builtin("gitlab".into())));
    }

    #[test]
    fn a_picked_image_is_stored_small_and_renders_as_a_disc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logo.png");
        image::RgbaImage::from_pixel(300, 200, image::Rgba([200, 30, 40, 255]))
            .save(&path)
            .unwrap();
        let png = image_for_vault(&path).unwrap();
        let stored = image::load_from_memory(&png).unwrap();
        assert_eq!((stored.width(), stored.height()), (STORED_IMAGE_SIDE, STORED_IMAGE_SIDE));
        let icons = ServiceIcons::new(dir.path());
        let disc = icons.render(&IconChoice::Image(png), 40).unwrap();
        let centre = pixel(&disc, 20, 20);
        let near = |a: u8, b: u8| a.abs_diff(b) <= 2;
        assert!(
            near(centre[0], 200) && near(centre[1], 30) && near(centre[2], 40) && centre[3] == 255,
            "{centre:?}"
        );
        assert_eq!(pixel(&disc, 0, 0)[3], 0);

        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        let error = image_for_vault(&dir.path().join("notes.txt")).unwrap_err();
        assert!(matches!(error, ImageError::NotAnImage), "{error}");
        assert!(matches!(image_for_vault(&dir.path().join("gone.png")), Err(ImageError::Read(_))));
    }
}
