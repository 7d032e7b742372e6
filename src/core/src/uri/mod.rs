//! otpauth:// and otpauth-migration:// URIs, and classification of scanned QR text.
