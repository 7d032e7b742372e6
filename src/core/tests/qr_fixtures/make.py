#!/usr/bin/env python3
"""Makes the structured-append fixtures of tests/qr_text.rs with segno (PyPI), an encoder
independent of ours (the `qrcode` crate cannot write a structured-append header).

Run from this folder: python3 make.py (segno 1.6). The PNGs are committed; this script says
how they were made.
"""

import segno

TEXT = "otpauth://totp/Coöperatie%20Rabo:jan?secret=JBSWY3DPEHPK3PXP&issuer=Coöperatie%20Rabo"

seq = segno.make_sequence(TEXT, symbol_count=2, error="m", encoding="utf-8")
assert len(seq) == 2
for i, qr in enumerate(seq):
    qr.save(f"structured_append_{i}.png", scale=4, border=4)
