//! Drawing an SVG into a square pixmap, for the service icons (model/icons.rs) and the tray
//! icon (platform/tray.rs). Its own module because the platform layer must not depend on the
//! model, and both need the same fit-and-centre rule.

use resvg::tiny_skia::{Pixmap, Transform};

/// Renders `svg` into a `side`-pixel square, scaled to fit and centred (`None` if the SVG
/// does not parse or the size is zero).
pub(crate) fn svg_pixmap(svg: &[u8], side: u32) -> Option<Pixmap> {
    let tree = resvg::usvg::Tree::from_data(svg, &resvg::usvg::Options::default()).ok()?;
    let mut pixmap = Pixmap::new(side, side)?;
    draw_centred(&tree, side as f32, &mut pixmap);
    Some(pixmap)
}

/// Draws `tree` scaled to fit a `fit`-pixel square in the middle of `pixmap`.
pub(crate) fn draw_centred(tree: &resvg::usvg::Tree, fit: f32, pixmap: &mut Pixmap) {
    let size = tree.size();
    let scale = fit / size.width().max(size.height());
    let (dx, dy) = (
        (pixmap.width() as f32 - size.width() * scale) / 2.0,
        (pixmap.height() as f32 - size.height() * scale) / 2.0,
    );
    resvg::render(tree, Transform::from_row(scale, 0.0, 0.0, scale, dx, dy), &mut pixmap.as_mut());
}
