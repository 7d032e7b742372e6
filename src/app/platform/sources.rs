//! Where scanned QR codes come from: the screen, the clipboard, image files, a camera.

use tessera_core::qr::{FrameSource, LumaFrame};

use super::capture::{CaptureError, ClipboardContent};

/// The scan sources. Every method runs on a worker thread (never the UI thread).
pub trait ScanSources: Send + Sync {
    /// Captures every screen.
    fn screen(&self) -> Result<Vec<LumaFrame>, CaptureError>;
    /// Reads the clipboard: an image or text.
    fn clipboard(&self) -> Result<ClipboardContent, CaptureError>;
    /// Reads an image file.
    fn image(&self, path: &std::path::Path) -> Result<LumaFrame, CaptureError>;
    /// Opens the camera; the returned source yields frames until dropped.
    fn camera(&self) -> Result<Box<dyn FrameSource>, CaptureError>;
}

/// The real sources: X11 screens, the OS clipboard, files, the first camera (`camera` feature).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemScanSources;

impl ScanSources for SystemScanSources {
    fn screen(&self) -> Result<Vec<LumaFrame>, CaptureError> {
        super::capture::capture_screens(None)
    }

    fn clipboard(&self) -> Result<ClipboardContent, CaptureError> {
        super::capture::read_clipboard()
    }

    fn image(&self, path: &std::path::Path) -> Result<LumaFrame, CaptureError> {
        super::capture::load_image(path)
    }

    fn camera(&self) -> Result<Box<dyn FrameSource>, CaptureError> {
        #[cfg(feature = "camera")]
        return Ok(Box::new(super::capture::CameraSource::open()?));
        #[cfg(not(feature = "camera"))]
        Err(CaptureError::Camera("this build of Tessera has no camera support".to_owned()))
    }
}
