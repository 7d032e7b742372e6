//! Where QR frames come from on the desktop: image files, the X11 screen and the clipboard.
//!
//! Each source produces [`LumaFrame`]s for `tessera_core::qr`; the decoding itself lives in
//! the core. Screen capture reads the root window of every X11 screen. On a Wayland desktop
//! XWayland's root window shows only X11 windows, so codes in Wayland windows are missed:
//! capture through the desktop portal is not implemented yet. Without `DISPLAY` the error
//! says so. The camera (nokhwa: V4L2 on Linux) is behind the
//! `camera` feature; with no camera, or no permission to use it, the error says so in plain
//! words.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use tessera_core::qr::{DecodeOptions, FrameSource, LumaFrame, QrError, decode};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder};

/// Joins an error with its causes ("cannot read image x.png: No such file or directory").
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Errors from reading frames for QR scanning.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// An image file could not be read or decoded.
    #[error("cannot read image {path}")]
    Image {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: image::ImageError,
    },
    /// Image bytes (from the clipboard, say) could not be decoded.
    #[error("cannot decode image data")]
    ImageData(#[source] image::ImageError),
    /// No X11 display is reachable.
    #[error(
        "cannot connect to the X11 display (is DISPLAY set? Wayland-only sessions are not supported yet)"
    )]
    NoDisplay(#[source] x11rb::errors::ConnectError),
    /// The X server refused or broke off the capture.
    #[error("screen capture failed")]
    Screen(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The screen uses a pixel format we do not convert.
    #[error("unsupported screen pixel format: depth {depth}, {bits_per_pixel} bits per pixel")]
    ScreenFormat {
        /// Colour depth of the screen.
        depth: u8,
        /// Bits per pixel in the captured image.
        bits_per_pixel: u8,
    },
    /// The clipboard could not be read.
    #[error("cannot read the clipboard")]
    Clipboard(#[source] arboard::Error),
    /// The clipboard holds neither an image nor text.
    #[error("the clipboard holds neither an image nor text")]
    ClipboardEmpty,
    /// No camera is connected (or none is visible to this user).
    #[error("no camera found (is one connected, and may this user open /dev/video*?)")]
    NoCamera,
    /// QR codes were found, but none holds readable text (bytes invalid in the character set
    /// the code names, an unknown character set, only some parts of a sequence).
    #[error("found a QR code, but its text cannot be read")]
    Text(#[source] tessera_core::qr::TextError),
    /// The camera exists but could not be opened or read.
    #[error("cannot use the camera: {0} (is another app using it, or is access denied?)")]
    Camera(String),
    /// The captured pixels did not form a valid frame.
    #[error(transparent)]
    Frame(#[from] QrError),
}

/// Reads an image file (PNG, JPEG, WebP, GIF, BMP) as a grayscale frame.
pub fn load_image(path: &Path) -> Result<LumaFrame, CaptureError> {
    let image = image::open(path)
        .map_err(|source| CaptureError::Image { path: path.to_owned(), source })?;
    Ok(to_frame(image)?)
}

/// Decodes in-memory image bytes (any supported format) as a grayscale frame.
pub fn image_from_bytes(bytes: &[u8]) -> Result<LumaFrame, CaptureError> {
    let image = image::load_from_memory(bytes).map_err(CaptureError::ImageData)?;
    Ok(to_frame(image)?)
}

fn to_frame(image: image::DynamicImage) -> Result<LumaFrame, QrError> {
    let (w, h) = (image.width(), image.height());
    if image.color().has_alpha() {
        // Through RGBA so transparent backgrounds (common in exported PNGs) count as white.
        let rgba = image.to_rgba8();
        return LumaFrame::from_rgba8(w, h, rgba.as_raw());
    }
    // Grayscale files (most QR exports) need no conversion at all.
    LumaFrame::new(w, h, image.into_luma8().into_raw())
}

/// Image files as a [`FrameSource`]: one frame per file, in order.
#[derive(Debug)]
pub struct ImageFiles {
    paths: VecDeque<PathBuf>,
}

impl ImageFiles {
    /// Serves the given files in order.
    pub fn new(paths: impl IntoIterator<Item = PathBuf>) -> Self {
        Self { paths: paths.into_iter().collect() }
    }
}

impl FrameSource for ImageFiles {
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
        let Some(path) = self.paths.pop_front() else { return Ok(None) };
        load_image(&path).map(Some).map_err(|e| QrError::Source(Box::new(e)))
    }
}

/// Captures every X11 screen (the whole root window of each) as grayscale frames.
///
/// `display` is an X display name such as `:0`; `None` uses `$DISPLAY`.
pub fn capture_screens(display: Option<&str>) -> Result<Vec<LumaFrame>, CaptureError> {
    let (conn, _) = x11rb::connect(display).map_err(CaptureError::NoDisplay)?;
    let setup = conn.setup();
    let little_endian = setup.image_byte_order == ImageOrder::LSB_FIRST;
    let mut frames = Vec::new();
    for screen in &setup.roots {
        let (w, h) = (screen.width_in_pixels, screen.height_in_pixels);
        let reply = conn
            .get_image(ImageFormat::Z_PIXMAP, screen.root, 0, 0, w, h, u32::MAX)
            .map_err(|e| CaptureError::Screen(Box::new(e)))?
            .reply()
            .map_err(|e| CaptureError::Screen(Box::new(e)))?;
        let bits_per_pixel = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == reply.depth)
            .map_or(0, |f| f.bits_per_pixel);
        // 24- and 32-bit TrueColor with 32 bits per pixel is what every current X server
        // and Xvfb use; anything else (8-bit palettes, 16-bit) is refused with a clear error.
        if bits_per_pixel != 32 || reply.depth < 24 {
            return Err(CaptureError::ScreenFormat { depth: reply.depth, bits_per_pixel });
        }
        let mut rgb = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
        for px in reply.data.chunks_exact(4) {
            if little_endian {
                rgb.extend_from_slice(&[px[2], px[1], px[0]]);
            } else {
                rgb.extend_from_slice(&[px[1], px[2], px[3]]);
            }
        }
        frames.push(LumaFrame::from_rgb8(u32::from(w), u32::from(h), &rgb)?);
    }
    Ok(frames)
}

/// The screens as a [`FrameSource`]: captures once, on the first request, then serves one
/// frame per screen.
#[derive(Debug, Default)]
pub struct ScreenSource {
    display: Option<String>,
    frames: Option<VecDeque<LumaFrame>>,
}

impl ScreenSource {
    /// Captures from `display` (`None`: `$DISPLAY`).
    pub fn new(display: Option<String>) -> Self {
        Self { display, frames: None }
    }
}

impl FrameSource for ScreenSource {
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
        if self.frames.is_none() {
            let frames = capture_screens(self.display.as_deref())
                .map_err(|e| QrError::Source(Box::new(e)))?;
            self.frames = Some(frames.into());
        }
        Ok(self.frames.as_mut().and_then(VecDeque::pop_front))
    }
}

/// The first camera as a [`FrameSource`]: one grayscale frame per call, until dropped.
#[cfg(feature = "camera")]
pub struct CameraSource {
    camera: nokhwa::Camera,
}

#[cfg(feature = "camera")]
impl std::fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource").finish_non_exhaustive()
    }
}

#[cfg(feature = "camera")]
impl CameraSource {
    /// Opens the first camera at its highest frame rate and starts streaming.
    pub fn open() -> Result<Self, CaptureError> {
        use nokhwa::pixel_format::LumaFormat;
        use nokhwa::utils::{ApiBackend, RequestedFormat, RequestedFormatType};
        // NokhwaError's text names the backend and device; shown as the cause, not a secret.
        let cameras =
            nokhwa::query(ApiBackend::Auto).map_err(|e| CaptureError::Camera(e.to_string()))?;
        let first = cameras.first().ok_or(CaptureError::NoCamera)?;
        let format =
            RequestedFormat::new::<LumaFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
        let mut camera = nokhwa::Camera::new(first.index().clone(), format)
            .map_err(|e| CaptureError::Camera(e.to_string()))?;
        camera.open_stream().map_err(|e| CaptureError::Camera(e.to_string()))?;
        Ok(Self { camera })
    }
}

#[cfg(feature = "camera")]
impl FrameSource for CameraSource {
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
        use nokhwa::pixel_format::LumaFormat;
        let to_err =
            |e: nokhwa::NokhwaError| QrError::Source(Box::new(CaptureError::Camera(e.to_string())));
        let buffer = self.camera.frame().map_err(to_err)?;
        let image = buffer.decode_image::<LumaFormat>().map_err(to_err)?;
        let (w, h) = image.dimensions();
        LumaFrame::new(w, h, image.into_raw()).map(Some)
    }
}

#[cfg(feature = "camera")]
impl Drop for CameraSource {
    fn drop(&mut self) {
        // Stopping a stream that already failed is harmless; the device is released either way.
        let _ = self.camera.stop_stream();
    }
}

/// What the clipboard held.
pub enum ClipboardContent {
    /// An image (a screenshot tool's output), as a grayscale frame.
    Image(LumaFrame),
    /// Text, e.g. a copied otpauth URI.
    Text(String),
}

impl std::fmt::Debug for ClipboardContent {
    // Clipboard text may be an otpauth URI with a secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Image(frame) => f.debug_tuple("Image").field(frame).finish(),
            Self::Text(text) => write!(f, "Text({} bytes)", text.len()),
        }
    }
}

/// Reads the clipboard: an image if it holds one, else its text.
pub fn read_clipboard() -> Result<ClipboardContent, CaptureError> {
    let mut clipboard = arboard::Clipboard::new().map_err(CaptureError::Clipboard)?;
    match clipboard.get_image() {
        Ok(image) => {
            let (w, h) = (image.width as u32, image.height as u32);
            return Ok(ClipboardContent::Image(LumaFrame::from_rgba8(w, h, &image.bytes)?));
        }
        Err(arboard::Error::ContentNotAvailable | arboard::Error::ConversionFailure) => {}
        Err(e) => return Err(CaptureError::Clipboard(e)),
    }
    match clipboard.get_text() {
        Ok(text) if !text.trim().is_empty() => Ok(ClipboardContent::Text(text.trim().to_owned())),
        Ok(_) | Err(arboard::Error::ContentNotAvailable) => Err(CaptureError::ClipboardEmpty),
        Err(e) => Err(CaptureError::Clipboard(e)),
    }
}

/// Decodes every code in each image file, several files at once (one per core); the results
/// keep the order of `paths`. This is `tessera scan IMAGE...`.
pub fn scan_images(
    paths: &[PathBuf],
    options: &DecodeOptions,
) -> Vec<Result<Vec<String>, CaptureError>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(paths.len());
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<Vec<String>, CaptureError>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break mine };
                        mine.push((
                            i,
                            load_image(path).and_then(|f| readable(decode(&f, options))),
                        ));
                    }
                })
            })
            .collect();
        // A worker only panics if decoding does, which `decode` rules out; its files are
        // then missing from the output rather than taking the others down.
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Decodes every code on every X11 screen; each distinct payload once. This is
/// `tessera scan --screen`.
pub fn scan_screens(
    display: Option<&str>,
    options: &DecodeOptions,
) -> Result<Vec<String>, CaptureError> {
    let mut payloads = Vec::new();
    let mut problem = None;
    for frame in capture_screens(display)? {
        let decoded = decode(&frame, options);
        problem = problem.or(decoded.problems.into_iter().next());
        for p in decoded.payloads {
            if !payloads.contains(&p) {
                payloads.push(p);
            }
        }
    }
    match problem {
        Some(problem) if payloads.is_empty() => Err(CaptureError::Text(problem)),
        _ => Ok(payloads),
    }
}

/// Returns the payloads decoded, or, when codes were found but none holds readable text, why:
/// such a code is reported as unreadable, never as "no QR code found".
pub fn readable(decoded: tessera_core::qr::Decoded) -> Result<Vec<String>, CaptureError> {
    match decoded.problems.into_iter().next() {
        Some(problem) if decoded.payloads.is_empty() => Err(CaptureError::Text(problem)),
        _ => Ok(decoded.payloads),
    }
}

/// Decodes the codes in a clipboard image, or returns clipboard text as the one payload (a
/// copied otpauth URI). This is `tessera scan --clipboard`.
pub fn scan_clipboard(options: &DecodeOptions) -> Result<Vec<String>, CaptureError> {
    Ok(match read_clipboard()? {
        ClipboardContent::Image(frame) => readable(decode(&frame, options))?,
        ClipboardContent::Text(text) => vec![text],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::qr::{DecodeOptions, ScanSession, encode};

    fn write_png(dir: &Path, name: &str, text: &str) -> PathBuf {
        let frame = encode(text).unwrap().to_luma(4, 4);
        let image =
            image::GrayImage::from_raw(frame.width(), frame.height(), frame.into_pixels()).unwrap();
        let path = dir.join(name);
        image.save(&path).unwrap();
        path
    }

    #[test]
    fn image_files_source_scans_each_file_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_png(dir.path(), "a.png", "otpauth://totp/A?secret=JBSWY3DPEHPK3PXP");
        let b = write_png(dir.path(), "b.png", "second");
        let mut session = ScanSession::new(
            ImageFiles::new([a, b]),
            DecodeOptions { budget: None, exhaustive: false },
        );
        assert_eq!(session.run().unwrap().payloads, ["otpauth://totp/A?secret=JBSWY3DPEHPK3PXP"]);
        assert_eq!(session.run().unwrap().payloads.last().map(String::as_str), Some("second"));
    }

    #[test]
    fn scan_images_keeps_argument_order_and_reports_each_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..5 {
            paths.push(write_png(dir.path(), &format!("{i}.png"), &format!("code {i}")));
        }
        paths.insert(2, dir.path().join("missing.png"));
        let got = scan_images(&paths, &DecodeOptions::STILL);
        assert_eq!(got.len(), 6);
        assert!(matches!(got[2], Err(CaptureError::Image { .. })));
        let texts: Vec<String> = got.into_iter().filter_map(Result::ok).flatten().collect();
        assert_eq!(texts, ["code 0", "code 1", "code 2", "code 3", "code 4"]);
    }

    #[test]
    fn unreadable_image_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.png");
        std::fs::write(&path, b"not a png").unwrap();
        let err = load_image(&path).unwrap_err();
        assert!(err.to_string().contains("broken.png"), "{err}");
    }

    #[test]
    fn transparent_png_background_reads_as_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        rgba.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let frame = image_from_bytes(bytes.get_ref()).unwrap();
        assert_eq!(frame.pixels(), &[255, 0]);
    }

    #[cfg(feature = "camera")]
    #[test]
    fn camera_opens_and_delivers_frames_or_explains_why_not() {
        // Our machines have no camera: opening must fail with an explanation, not panic.
        // Where a camera exists, it must deliver a frame.
        match CameraSource::open() {
            Ok(mut camera) => {
                let frame = camera.next_frame().unwrap().unwrap();
                assert!(frame.width() > 0 && frame.height() > 0);
            }
            Err(err) => {
                assert!(matches!(err, CaptureError::NoCamera | CaptureError::Camera(_)), "{err}");
                assert!(err.to_string().contains("camera"));
            }
        }
    }

    #[test]
    fn missing_display_is_explained() {
        let err = capture_screens(Some(":4242")).unwrap_err();
        assert!(matches!(err, CaptureError::NoDisplay(_)), "{err}");
        assert!(err.to_string().contains("DISPLAY"));
    }
}
