#!/usr/bin/env python3
"""Reads QR codes in one image with zxing-cpp (PyPI `zxing-cpp`) and prints each text on its
own line: the reference decoder of scripts/qr-bench."""

import sys

import zxingcpp
from PIL import Image

for path in sys.argv[1:]:
    image = Image.open(path).convert("L")
    for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
        print(result.text)
