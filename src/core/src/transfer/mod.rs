//! Import and export of other authenticators' formats.
