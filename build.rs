//! Compiles the Slint UI (ui/app.slint) and bundles the translations from assets/translations.
//!
//! Debug info is on in dev/test builds so UI tests can find elements by id; release builds
//! leave it out.
fn main() {
    let debug = std::env::var("PROFILE").map(|p| p != "release").unwrap_or(true);
    // Read at run time: a build script binary may be reused from another checkout of the crate.
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let config = slint_build::CompilerConfiguration::new()
        .with_debug_info(debug)
        .with_style("fluent".into())
        // One translation per string, not per component: the .po has no msgctxt.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_bundled_translations(format!("{root}/assets/translations"));
    if let Err(error) = slint_build::compile_with_config(format!("{root}/ui/app.slint"), config) {
        eprintln!("slint compile error: {error}");
        std::process::exit(1);
    }
}
