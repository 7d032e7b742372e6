//! Settings' "Import icon pack": an Aegis icon pack (.zip) into the data directory; the list
//! shows its icons at once.

use slint::ComponentHandle;

use crate::model::Model;
use crate::ui::{AppWindow, IconsAdapter, PackOutcome};

/// Wires the import button.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let (m, handle) = (model.downgrade(), window.as_weak());
    window.global::<IconsAdapter>().on_import_pack(move |path| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let adapter = ui.global::<IconsAdapter>();
        match model.import_icon_pack(std::path::Path::new(path.trim())) {
            Ok(pack) => {
                adapter.set_pack_detail(pack.name.into());
                adapter.set_pack_icons(super::int(pack.icons.len()));
                adapter.set_pack_outcome(PackOutcome::Imported);
                adapter.set_pack_path(Default::default());
            }
            Err(error) => {
                adapter.set_pack_detail(error.to_string().into());
                adapter.set_pack_outcome(PackOutcome::Failed);
            }
        }
    });
}
