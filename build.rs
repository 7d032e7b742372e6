//! Compiles the Slint UI (ui/app.slint), bundles the translations from assets/translations,
//! and writes the table of bundled service icons (assets/service-icons/*.svg, compiled into
//! the binary with `include_bytes!`; see src/app/model/icons.rs).
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
    if let Err(error) = write_service_icons(&root) {
        eprintln!("service icons: {error}");
        std::process::exit(1);
    }
}

/// Writes `$OUT_DIR/service_icons.rs`: `SERVICE_ICONS`, (slug, SVG bytes) sorted by slug.
fn write_service_icons(root: &str) -> std::io::Result<()> {
    let dir = std::path::Path::new(root).join("assets/service-icons");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut slugs: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".svg").map(str::to_owned))
        .collect();
    slugs.sort();
    let mut table = String::from(
        "/// The bundled service icons: (slug, SVG), sorted by slug (written by build.rs).\n\
         pub static SERVICE_ICONS: &[(&str, &[u8])] = &[\n",
    );
    for slug in slugs {
        let path = dir.join(format!("{slug}.svg"));
        table.push_str(&format!(
            "    ({slug:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out = std::env::var("OUT_DIR").map_err(std::io::Error::other)?;
    std::fs::write(std::path::Path::new(&out).join("service_icons.rs"), table)
}
