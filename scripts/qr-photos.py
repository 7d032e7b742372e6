#!/usr/bin/env python3
"""Renders the photograph tier of scripts/qr-bench: realistic camera photos of QR codes.

Usage: qr-photos.py OUTDIR [PER_CONDITION] [SEED]

Writes PER_CONDITION (default 20) JPEG photos per condition to OUTDIR as
<condition>__<n>.jpg and OUTDIR/truth.tsv with one "file<TAB>payload" line per code in the
photo. Everything derives from SEED: the same seed gives the same images, byte for byte on the
same library versions. Codes are made by segno (an encoder independent of ours), with its
default character-set choice (ISO-8859-1 byte mode for Latin text, Kanji mode for Japanese)
unless the condition asks otherwise.

Each photo models a camera: the code on paper or on a monitor (sub-pixel grid), placed in a
scene by a perspective or curved mapping, lit unevenly, with glare, lens blur, sensor noise
and JPEG compression. None of it comes from another project.
"""

import base64
import math
import random
import sys
from pathlib import Path

import cv2
import numpy as np
import segno

ISSUERS = [
    "Zoë Bank", "Société Générale", "Coöperatie Rabo", "Müller & Söhne", "Ørsted",
    "Banco Español", "Crédit Agricole", "Nürnberger", "Łódź Bank", "Ärzte Kasse",
    "GitHub", "Example", "ACME Corp", "Fastmail", "Dropbox",
]
JAPANESE = ["東京銀行", "みずほ銀行", "楽天証券", "日本郵便", "三井住友カード"]


def otpauth(rng, issuer=None):
    issuer = issuer or rng.choice(ISSUERS)
    user = rng.choice(["alice", "bob", "zoë", "jan.de.vries", "admin", "maría"])
    secret = base64.b32encode(rng.randbytes(rng.choice([10, 20]))).decode().rstrip("=")
    label = issuer.replace(" ", "%20") + ":" + user
    return f"otpauth://totp/{label}?secret={secret}&issuer={issuer.replace(' ', '%20')}"


def migration(rng, accounts=10):
    # The shape of a Google Authenticator export: about 50 bytes of protobuf per account.
    raw = rng.randbytes(accounts * rng.randint(45, 70))
    data = base64.b64encode(raw).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    return "otpauth-migration://offline?data=" + data


def make_code(text, rng, error=None, kind=None):
    """Returns (module matrix with 1 = dark, payload text)."""
    if kind == "utf8-eci":
        q = segno.make(text, error=error or "m", micro=False, encoding="utf-8", eci=True)
    elif kind == "utf8":
        q = segno.make(text, error=error or "m", micro=False, encoding="utf-8")
    elif kind == "sjis":
        q = segno.make(text, error=error or "m", micro=False, encoding="shift_jis")
    else:
        q = segno.make(text, error=error or "m", micro=False)
    return np.array(q.matrix, dtype=np.uint8), text


def module_image(matrix, module_px, quiet=4, ink=20, paper=235):
    m = np.pad(matrix, quiet)
    img = np.where(np.kron(m, np.ones((module_px, module_px), np.uint8)) > 0, ink, paper)
    return img.astype(np.float32)


def scene(rng, h, w, base=None):
    """A background: a desk or wall with a gradient and some texture."""
    base = base if base is not None else rng.uniform(60, 170)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)
    bg = base + 50 * (gx * xx / w + gy * yy / h)
    small = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12, (h // 16 + 1, w // 16 + 1))
    bg += cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return bg


def paste(dst, src, quad, mask_value=None):
    """Warps src (a float image) onto dst inside quad (4 points: tl, tr, br, bl)."""
    h, w = src.shape
    m = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [w, 0], [w, h], [0, h]]), np.float32(quad)
    )
    warped = cv2.warpPerspective(src, m, (dst.shape[1], dst.shape[0]), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(src), m, (dst.shape[1], dst.shape[0]))
    dst[:] = dst * (1 - mask) + warped * mask


def quad_around(rng, cx, cy, size, tilt):
    """A square of side `size` centred at (cx, cy), rotated and seen in perspective."""
    a = rng.uniform(-math.pi, math.pi) if tilt > 1 else rng.uniform(-0.3, 0.3)
    pts = []
    for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)]):
        jitter = size * 0.5 * min(tilt, 1.0) * 0.35
        x = sx * size / 2 + rng.uniform(-jitter, jitter)
        y = sy * size / 2 + rng.uniform(-jitter, jitter)
        pts.append((cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)))
    return pts


def light(img, rng, strength=0.35):
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / max(w, h)
    return img * (1 - strength * np.clip(d, 0, 1.2))


def glare(img, rng, cx, cy, radius, level=None):
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ax, ay = radius * rng.uniform(0.6, 1.4), radius * rng.uniform(0.4, 1.0)
    d = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    level = level if level is not None else rng.uniform(120, 230)
    return img + level * np.exp(-d * 1.5)


def camera(img, rng, blur=(0.6, 1.6), noise=(3, 8), quality=(70, 92)):
    sigma = rng.uniform(*blur)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise_rng = np.random.default_rng(rng.randrange(1 << 30))
    img = img + noise_rng.normal(0, rng.uniform(*noise), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), rng.randint(*quality)


def monitor(code_img, rng):
    """The code shown on an LCD: each pixel becomes an RGB stripe triple with dark gaps,
    viewed in grey; when photographed at a slightly different scale this gives moiré."""
    pitch = 3
    h, w = code_img.shape
    up = cv2.resize(code_img, (w * pitch, h * pitch), interpolation=cv2.INTER_NEAREST)
    cols = np.arange(w * pitch) % pitch
    rows = np.arange(h * pitch) % pitch
    stripe = np.where(cols == 0, 0.55, np.where(cols == 1, 0.95, 0.75))[None, :]
    gap = np.where(rows == pitch - 1, 0.55, 1.0)[:, None]
    return (up * stripe * gap).astype(np.float32)


def cylinder(code_img, rng, strength):
    """Wraps an image around a vertical cylinder (a bottle, a can, a curved card)."""
    h, w = code_img.shape
    pad = w // 2
    src = cv2.copyMakeBorder(code_img, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=float(code_img[0, 0]))
    W = src.shape[1]
    out_w = W
    xx = np.arange(out_w, dtype=np.float32)
    # The visible half of a cylinder: screen x = R sin(theta); source x = R theta.
    r = W / (2 * math.asin(min(0.99, strength)))
    theta = np.arcsin(np.clip((xx - W / 2) / r, -0.999, 0.999))
    map_x = (theta * r + W / 2).astype(np.float32)
    map_x = np.repeat(map_x[None, :], h, axis=0)
    yy = np.arange(h, dtype=np.float32)[:, None]
    # Slight vertical bulge: rows near the edges bend.
    bend = (np.cos(theta) - 1)[None, :] * rng.uniform(0, 0.06) * (yy - h / 2)
    map_y = (yy + bend).astype(np.float32)
    shade = (0.75 + 0.25 * np.cos(theta))[None, :]
    out = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out * shade


def render(condition, rng):
    """Returns (8-bit grey image, jpeg quality, [payloads])."""
    payloads = []

    def code(text=None, **kw):
        m, t = make_code(text or otpauth(rng), rng, **kw)
        payloads.append(t)
        return m

    if condition == "paper-blur":
        img = scene(rng, 1200, 1600)
        m = code()
        size = rng.uniform(420, 700)
        paste(img, module_image(m, 10), quad_around(rng, 800 + rng.uniform(-200, 200), 600, size, 0.5))
        out, q = camera(light(img, rng), rng, blur=(1.2, 2.6))
    elif condition == "glare":
        img = scene(rng, 1200, 1600)
        m = code()
        cx, cy, size = 800 + rng.uniform(-150, 150), 600 + rng.uniform(-100, 100), rng.uniform(450, 650)
        paste(img, module_image(m, 10), quad_around(rng, cx, cy, size, 0.4))
        img = glare(img, rng, cx + rng.uniform(-0.3, 0.3) * size, cy + rng.uniform(-0.3, 0.3) * size, size * rng.uniform(0.12, 0.25))
        out, q = camera(img, rng)
    elif condition == "curved":
        img = scene(rng, 1200, 1600)
        m = code()
        bent = cylinder(module_image(m, 10), rng, rng.uniform(0.55, 0.85))
        h, w = bent.shape
        s = rng.uniform(550, 800) / h
        bent = cv2.resize(bent, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        h, w = bent.shape
        x0, y0 = (1600 - w) // 2, (1200 - h) // 2
        img[y0:y0 + h, x0:x0 + w] = bent
        out, q = camera(light(img, rng), rng)
    elif condition == "perspective":
        img = scene(rng, 1200, 1600)
        m = code()
        size = rng.uniform(500, 750)
        cx, cy = 800, 600
        # A strong tilt: one edge much shorter than the opposite one.
        k = rng.uniform(0.45, 0.65)
        half = size / 2
        quad = [(cx - half * k, cy - half), (cx + half * k, cy - half), (cx + half, cy + half * 0.7), (cx - half, cy + half * 0.7)]
        a = rng.uniform(0, 2 * math.pi)
        quad = [(cx + (x - cx) * math.cos(a) - (y - cy) * math.sin(a), cy + (x - cx) * math.sin(a) + (y - cy) * math.cos(a)) for x, y in quad]
        paste(img, module_image(m, 10), quad)
        out, q = camera(light(img, rng), rng)
    elif condition == "screen-moire":
        img = scene(rng, 1200, 1600, base=rng.uniform(20, 50))
        m = code()
        mod = rng.choice([4, 5, 6])
        lcd = monitor(module_image(m, mod, ink=25, paper=230), rng)
        size = rng.uniform(450, 700)
        paste(img, lcd, quad_around(rng, 800, 600, size, 0.4))
        img = glare(img, rng, rng.uniform(400, 1200), rng.uniform(300, 900), 500, level=rng.uniform(20, 60))
        out, q = camera(img, rng, blur=(0.4, 1.0))
    elif condition == "dark-page":
        # A light-on-dark code cut out of a dark web page without quiet zone, photographed.
        img = scene(rng, 1200, 1600, base=rng.uniform(18, 35))
        m = code()
        tile = module_image(m, 10, quiet=0, ink=230, paper=28)
        size = rng.uniform(400, 650)
        paste(img, tile, quad_around(rng, 800, 600, size, 0.3))
        out, q = camera(img, rng, blur=(0.5, 1.4))
    elif condition == "dense":
        # A Google Authenticator export of 10 accounts or more: versions 20-40.
        img = scene(rng, 2000, 2400)
        m = code(migration(rng, rng.choice([8, 10, 12, 16, 20])), error="l")
        size = rng.uniform(1300, 1700)
        paste(img, module_image(m, 12), quad_around(rng, 1200, 1000, size, 0.15))
        out, q = camera(light(img, rng, 0.25), rng, blur=(0.5, 1.1), quality=(85, 95))
    elif condition == "sheet":
        # A 12-megapixel photo of a printed sheet of ten codes (export pages, labels).
        img = scene(rng, 3000, 4000, base=rng.uniform(70, 130))
        sheet = np.full((2600, 3600), 232, np.float32)
        for i in range(10):
            r, c = divmod(i, 5)
            text = migration(rng, rng.choice([1, 2, 3])) if rng.random() < 0.3 else None
            m = code(text)
            tile = module_image(m, 9, quiet=2)
            th, tw = tile.shape
            s = 560 / max(th, tw)
            tile = cv2.resize(tile, (int(tw * s), int(th * s)), interpolation=cv2.INTER_AREA)
            th, tw = tile.shape
            y0, x0 = 300 + r * 1200, 160 + c * 700
            sheet[y0:y0 + th, x0:x0 + tw] = tile
        quad = quad_around(rng, 2000, 1500, 1.0, 0.0)
        w2, h2 = 3400 * rng.uniform(0.9, 1.0) / 2, 2500 * rng.uniform(0.9, 1.0) / 2
        dx, dy = rng.uniform(-120, 120), rng.uniform(-120, 120)
        quad = [(2000 - w2 + dx, 1500 - h2), (2000 + w2, 1500 - h2 + dy), (2000 + w2 - dx, 1500 + h2), (2000 - w2, 1500 + h2 - dy)]
        paste(img, sheet, quad)
        out, q = camera(light(img, rng, 0.3), rng, blur=(0.6, 1.3))
    elif condition == "mirrored":
        img = scene(rng, 1200, 1600)
        m = code()[:, ::-1]
        size = rng.uniform(450, 650)
        paste(img, module_image(m, 10), quad_around(rng, 800, 600, size, 0.4))
        out, q = camera(light(img, rng), rng)
    elif condition == "non-utf8":
        img = scene(rng, 1200, 1600)
        kind = rng.choice(["latin1", "kanji", "sjis", "utf8-eci", "utf8"])
        if kind in ("kanji", "sjis"):
            text = otpauth(rng, rng.choice(JAPANESE)) if rng.random() < 0.5 else rng.choice(JAPANESE) + " " + rng.choice(JAPANESE)
        else:
            text = otpauth(rng, rng.choice(ISSUERS[:10]))
        m = code(text, kind=None if kind in ("latin1", "kanji") else kind)
        size = rng.uniform(450, 650)
        paste(img, module_image(m, 10), quad_around(rng, 800, 600, size, 0.5))
        out, q = camera(light(img, rng), rng)
    elif condition == "low-light":
        img = scene(rng, 1200, 1600) * 0.35
        m = code()
        size = rng.uniform(450, 650)
        paste(img, module_image(m, 10, ink=8, paper=75), quad_around(rng, 800, 600, size, 0.5))
        out, q = camera(img, rng, noise=(6, 12), quality=(60, 80))
    elif condition == "many-small":
        # A 12-megapixel photo of a wall of labels: 20 small codes at odd angles.
        img = scene(rng, 3000, 4000)
        for i in range(20):
            r, c = divmod(i, 5)
            m = code()
            size = rng.uniform(300, 420)
            cx, cy = 450 + c * 780 + rng.uniform(-60, 60), 420 + r * 720 + rng.uniform(-60, 60)
            paste(img, module_image(m, 8), quad_around(rng, cx, cy, size, 0.6))
        out, q = camera(light(img, rng), rng, blur=(0.5, 1.2))
    else:
        raise ValueError(condition)
    return out, q, payloads


CONDITIONS = [
    "paper-blur", "glare", "curved", "perspective", "screen-moire", "dark-page",
    "dense", "sheet", "mirrored", "non-utf8", "low-light", "many-small",
]


def main():
    out = Path(sys.argv[1])
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "truth.tsv", "w", encoding="utf-8") as truth:
        for ci, cond in enumerate(CONDITIONS):
            # Large multi-code photos are costly to render and to read: fewer of them.
            n = max(2, per // 3) if cond in ("sheet", "many-small") else per
            for i in range(n):
                rng = random.Random(seed * 1_000_003 + ci * 1000 + i)
                img, quality, payloads = render(cond, rng)
                name = f"{cond}__{i:02d}.jpg"
                ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
                assert ok
                (out / name).write_bytes(data.tobytes())
                for p in payloads:
                    assert "\t" not in p and "\n" not in p
                    truth.write(f"{name}\t{p}\n")


if __name__ == "__main__":
    main()
