//! Service icons as Slint images, for the screens that show them (the list's rows, the
//! details screen's preview). Not a screen: a cache the screens share on the UI thread.
//!
//! An icon is rendered the first time a shown row or preview asks for it, at the window's
//! pixel size, and kept per icon and size; rows of the same service share one image. Locking
//! empties the cache (custom images come from the vault).

use std::cell::RefCell;
use std::collections::HashMap;

use slint::{Image, Rgba8Pixel, SharedPixelBuffer};
use tessera_core::icons::IconChoice;

use crate::model::icons::ServiceIcons;

/// The avatar's side in logical pixels (ui/widgets/avatar.slint).
pub(crate) const AVATAR_SIDE: f32 = 40.0;

thread_local! {
    static RENDERED: RefCell<HashMap<(IconChoice, u32), Option<Image>>> =
        RefCell::new(HashMap::new());
}

/// Returns the image of `choice` for an avatar at `scale` (the window's scale factor), or
/// `None` when it cannot be drawn (the letter shows).
pub(crate) fn image(icons: &ServiceIcons, choice: &IconChoice, scale: f32) -> Option<Image> {
    let side = (AVATAR_SIDE * scale.clamp(1.0, 4.0)).ceil() as u32;
    let key = (choice.clone(), side);
    if let Some(found) = RENDERED.with(|r| r.borrow().get(&key).cloned()) {
        return found;
    }
    let image = icons.render(choice, side).map(|pixmap| {
        let mut buffer = SharedPixelBuffer::<Rgba8Pixel>::new(pixmap.width(), pixmap.height());
        buffer.make_mut_bytes().copy_from_slice(pixmap.data());
        Image::from_rgba8_premultiplied(buffer)
    });
    RENDERED.with(|r| r.borrow_mut().insert(key, image.clone()));
    image
}

/// Forgets every rendered icon.
pub(crate) fn clear() {
    RENDERED.with(|r| r.borrow_mut().clear());
}
