//! QR decoding from images and camera frames; QR encoding for export.
