"""An invisible image watermark carrying a 64-bit trace id (and a time, in the 128-bit mode), robust to JPEG,
resizing, cropping, rotation and brightness.

The deployment guard marks every generated image with its generation's trace id; a rights holder who later finds
the image (re-compressed, resized, cropped) reads the id back with the provider's key. The design is classical
spread spectrum in the luma, chosen over a learned encoder because it is small, fast, pure numpy and its false
positive rate can be bounded by arithmetic rather than estimated:

* **Periodic tile, keyed spectrum.** The mark is a 128 x 128 pixel tile repeated over the image. The tile is
  built in its own Fourier domain: the 480 coefficients on the ring of 7 to 19 cycles per tile (wavelengths of
  7 to 18 pixels: low enough to survive JPEG after halving, high enough to hide in texture) give 960 real
  "dofs" (real and imaginary parts), each a keyed +-1; 15 % of them are a keyed *sync* pattern, the rest carry
  the coded bits. Periodicity is what makes geometry cheap: a crop only shifts the tile (a phase), a resize only changes
  its period, and summing the image over its period (folding) adds every tile's copy coherently.
* **Payload.** 64 bits + a 24-bit keyed MAC tag (HMAC-SHA256), encoded by a rate-1/3, constraint-length-9
  convolutional code (generators 557, 663, 711 octal, terminated) into 288 coded bits; soft Viterbi decoding.
  The 816 data dofs are dealt round-robin over the band, so each coded bit has two or three, in distant bands.
  The **128-bit mode** (seed 003 section 4.4) carries the 64-bit payload, a 32-bit time and a 32-bit tag: 408
  coded bits on the same dofs and the same sync (two dofs each), so it needs more pixels for the same margin
  (``MIN_SIDE_128``). The detector tries both modes and says which it found.
* **Perceptual mask.** The tile is multiplied by a local amplitude: the image's contrast in the watermark's band,
  lowered where one orientation dominates (an edge masks less than a texture: without this the mark rings
  along strong edges), eroded so that flat areas next to edges stay flat, between 0.1 and 1.2 x ``strength``
  grey levels; then capped so that the PSNR is at least 38.5 dB, or, in a strong texture, so that the mark's rms
  is at most ``TEXTURE_SHARE`` (16 %) of the image's median local contrast, down to 35 dB: on grass and gravel
  (median contrast 26 grey levels) the mask asks for 7 grey levels rms, 38.5 dB allowed 3, and at 3 a turn, a
  rescale or a 10 % crop left most keys' marks unreadable; at 4.2 (35.9 dB, SSIM >= 0.987) they read. Of the 18
  photographs measured only grass and gravel pass 38.5 dB. Flat areas get 1.8 grey levels rms (0.2 x
  strength; 0.9 before graphics were measured: charts and diagrams are flat but for their edges, and at 0.9 JPEG
  50 erased 65 % of their marks), and an image flat almost everywhere has its floor lifted until the mark's rms
  reaches 2 grey levels (PSNR 42 dB); no banding (the tile is band-limited noise: no blocks, no low frequencies).
* **Informed embedding.** The embedder knows the host, so per coded bit it measures how the image itself
  projects on that bit's dofs (as the detector will) and spends more amplitude on bits the host opposes and
  less on bits it already helps (iterated three times through a linear model of the detector in the tile
  domain, which also cancels the cross-talk the mask causes). Per band it also runs the image through a
  simulated "halve and JPEG 50" (block mean + the standard quantisation table on 8 x 8 DCT blocks) and moves
  energy to the bands that keep their SNR, so smooth photographs lean to lower frequencies.
* **Detection.** Luma -> pyramid -> per level a high-pass normalised by local contrast (robust to brightness and
  to texture) -> candidate geometries (period and angle) -> for each, the periodic DFT at the band frequencies
  (every pixel binned by its tile coordinates into quarter-pixel bins, one FFT) -> the translation from a cyclic
  correlation with the sync (one 128 x 128 FFT) -> the geometry (periods, angle, shear) refined from how the
  sync's offset drifts between image quadrants -> soft values weighted per band by the SNR the sync reveals ->
  Viterbi in both modes -> MAC check.
* **Geometry: the tile's own periodicity, searched in log-polar, then a keyed angle search.** A periodic tile
  puts its energy on a lattice of peaks in the image's power spectrum (Kutter 1998 reads the same lattice from
  the autocorrelation); a resize scales the lattice, a rotation turns it. The whitened spectrum of a central
  crop, resampled on a log-polar grid, is cross-correlated with the lattice's own log-polar points (one 2-D
  FFT): scale becomes a shift along log-radius and rotation a shift along the angle, as in the Fourier-Mellin
  template search of Pereira & Pun 2000, and every (period, angle) pair within +-10 degrees and periods 48 to
  104 pixels per pyramid level is scored at once; the best 4 turned and 2 upright peaks, refined on the
  interpolated spectrum, plus 128 and 64 upright, are sync-checked. The upright column (a resized copy, the
  commonest) is scored again exactly, the lattice interpolated on the whitened spectrum itself: the log-polar
  grid is maximum-filtered so that no turned peak falls between its cells, which lifts the noise as much as the
  peaks, and on textures it ranked a rescaled copy's true period nowhere (z ~1 where the exact score gives 4
  to 12). No separate template is embedded: the
  payload's own lattice is the template, so no energy is taken from the payload for peaks that an attacker
  could also see and remove. On strong textures (grass, gravel) the square-law comb cannot see a mark that the
  coherent sync still can, so when the proposals fail the detector also searches by the key: the tile at its
  own size turned through every ``SEARCH_STEP`` within +-10 degrees, the sync correlated on a central 256 px
  crop (all angles in one batched FFT), and the clearest angles decoded. A keyed search over scale as well
  would multiply that cost by the number of scales; a rescaled and turned copy relies on the comb.

False positives, by construction: a result is returned only when the decoded message's tag equals
HMAC-SHA256(key, message) (24 bits on the 8-byte message of the 64-bit mode, 32 on the 12-byte one of the
128-bit mode). For an image that does not carry a mark made with this key (unmarked, or marked with another
key) the decoder's output is independent of that MAC key, so each decode attempt passes with probability 2^-24
or 2^-32 (HMAC as a PRF); a mark of the other mode, or a wrong message decoded from a true mark, is a
different message, so the same holds. The geometry search checks no tag (the comb is keyless, the sync
correlations only rank geometries), and at most ``MAX_DECODES`` geometries are decoded (``MAX_DECODES -
SEARCH_DECODES`` from the keyless proposals, ``SEARCH_DECODES`` from the keyed angle search), each in both
modes: P(false positive or wrong id) <= MAX_DECODES * (2^-24 + 2^-32) per image and key, whatever the image
(``FALSE_POSITIVE_BOUND``, below 1e-6).

Measured (``benchmarks/watermark_robustness.py``, 19 photographs of 512 px and more, 20 charts, diagrams and flat
illustrations): on the photographs the payload reads back from every one unattacked and after every attack: JPEG
90, 75 and 50 (4:2:0), resize to half, brightness +-20 %, JPEG 50 then resize to half, resize to half then JPEG 50,
a 10 % crop, rotations of +-2 and +-5 degrees with their crop, scale 0.75 then JPEG 80 (grass and gravel failed the
crop, the rotations and the rescale before the texture share and the exact upright score; a check with four keys
each read them after the crop, the rotations, the rescale and resize to half then JPEG 50). On the graphics: every
one after JPEG 50 (35 % before), rotations, crop and resizes; brightness +20 % 75 % (white backgrounds clip);
resize to half then JPEG 50 30 %. The 128-bit mode reads on every photograph but after resize to half then JPEG 50
(17 of 19) and +-5 degrees (18 of 19), and on 14 or 15 of 15 graphics. PSNR median 39.0 dB (photos of 512 px) to
41.6 (1080p), minimum 35.8 (grass and gravel; 38.4 for the others); graphics 40.5. invisible-watermark's dwtDct and
dwtDctSvd read none of them after JPEG 50, a resize, a crop or a rotation. No false positive in 7,160 reads (5,040
unmarked images with random keys, 2,120 marked ones with wrong keys). 256 x 256 crops: 82 % unattacked, 79 % after
scale 0.75 then JPEG 80 (42 % before the exact upright score).

Keys are secret bytes (>= 16); the tile layout, signs and MAC key are derived with SHAKE-256 and HMAC, never
with numpy's random generators, so a mark made today still reads after a numpy upgrade (and 64-bit marks made
before the geometry search and the 128-bit mode still read: the 64-bit layout is unchanged). Images must be at
least 128 x 128 (``MIN_SIDE_128`` for the 128-bit mode; ``InvalidInputError`` otherwise). Core is pure: no
I/O, numpy only.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(96, 160, (256, 256, 3), dtype=np.uint8)
    >>> key = b"0123456789abcdef"
    >>> marked = embed_watermark(img, b"trace-01", key=key)
    >>> detect_watermark(marked, key=key).payload
    b'trace-01'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from copyalign.errors import InvalidInputError

__all__ = [
    "DEFAULT_STRENGTH",
    "FALSE_POSITIVE_BOUND",
    "MIN_SIDE",
    "MIN_SIDE_128",
    "PAYLOAD_BITS",
    "WatermarkDetection",
    "detect_watermark",
    "detect_watermark_keys",
    "embed_watermark",
]

PAYLOAD_BITS: int = 64
TAG_BITS = 24
"""Keyed MAC bits checked on every 64-bit decode (see FALSE_POSITIVE_BOUND)."""
TIME_BITS = 32
TAG_BITS_128 = 32
"""The 128-bit mode: the 64-bit payload, a 32-bit time (the guard puts Unix seconds) and a 32-bit MAC tag."""
MAX_DECODES = 6
"""Candidate geometries decoded per image and key (4 the key-free search proposes, 2 the search by the key); each
is read in both modes, so at most 6 * (2^-24 + 2^-32) = 3.6e-7 in all."""
SEARCH_DECODES = 2
FALSE_POSITIVE_BOUND = MAX_DECODES * (2.0**-TAG_BITS + 2.0**-TAG_BITS_128)
"""Chance that an image not marked with this key yields a result, or a marked one a wrong id (per image and key)."""
MIN_SIDE = 128
MIN_SIDE_128 = 512
"""The 128-bit mode needs at least 512 x 512 pixels (16 tiles): 40 more bits want more pixels at the same PSNR."""
MIN_KEY = 16
DEFAULT_STRENGTH = 9.0
"""Watermark amplitude (grey levels) in a texture of band contrast MASK_REF; flat areas get 0.1 of it."""
MIN_PSNR = 38.5
TEXTURE_SHARE = 0.16
"""In a texture the mark's rms may reach this share of the image's median local contrast in the band, past the
38.5 dB cap (grass, gravel: a mark of 4 grey levels in a texture of 26 is not seen, and at 38.5 dB a turn or a
rescale left these marks unreadable), but never past TEXTURE_MIN_PSNR."""
TEXTURE_MIN_PSNR = 35.0
MIN_RMS = 2.0  # grey levels: the floor a flat image's mark is lifted to (PSNR 42 dB)

TILE = 128  # the embedded period, pixels
WORK = 64  # the embedder analyses at half resolution, where the tile is 64 pixels, as the detector reads it
KMAX = 19
_BAND_EDGES = (7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0)  # cycles per tile; the band is [7, 19)
SYNC_FRACTION = 0.15
MASK_REF = 8.0
MASK_FLOOR = 0.2
MASK_MAX = 1.2
EDGE = 0.8  # how much a single dominant orientation lowers the mask
A_LO, A_HI = 0.35, 2.5  # per-bit amplitude range of the informed embedding (1 = uniform)
GIVE_UP = 0.04  # fraction of coded bits the informed embedding may leave to the code
E_LO, E_HI = 0.25, 3.0  # per-band energy range of the attack-aware allocation
ITERATIONS = 3
Z_DECODE = 2.5  # sync z below which a candidate is not decoded (time only: the MAC bounds false positives)
Z_REFINE = 4.0
Z_CLEAR = 7.0  # a sync this clear is decoded before the other candidates are even looked at
P_LO, P_HI = 48.0, 104.0  # periods searched per pyramid level, pixels
ANGLE_MAX = 10.0  # degrees searched either side of upright
COMB_ANGLE_STEP = 0.5  # degrees: the log-polar grid of the geometry search
COMB_LOG_STEP = 0.005  # log-period
COMB_TURNED, COMB_UPRIGHT = 4, 2  # geometries the search proposes (then 128 and 64 upright): sync-checked, and
# only the MAX_DECODES with the clearest sync are decoded
REFINE_STEPS = 4
SEARCH_STEP = 0.2  # degrees: the search by the key (a turned copy of the tile at its own size)
SEARCH_SIDE = 256  # pixels of the working level it correlates (a central crop: coherent within 0.1 degree)
OVERSAMPLE = 4  # folding bins per pixel
Q = 128  # offsets searched per tile side

_K = 9
_GENERATORS = (0o557, 0o663, 0o711)
_MODES = {64: (PAYLOAD_BITS, TAG_BITS), 128: (PAYLOAD_BITS + TIME_BITS, TAG_BITS_128)}  # mode: (data, tag) bits
_CODED = {m: (d + t + _K - 1) * len(_GENERATORS) for m, (d, t) in _MODES.items()}
_CODED_BITS = _CODED[64]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
IP = npt.NDArray[np.intp]
C128 = npt.NDArray[np.complex128]
U8 = npt.NDArray[np.uint8]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class WatermarkDetection:
    """A watermark read with the right key; the payload's MAC tag verified."""

    payload: bytes  # 8 bytes (the trace id)
    score: float  # sync peak in standard deviations of the correlation surface (above ~5: clear)
    bit_errors: int  # coded bits (of 288, or 408 in the 128-bit mode) the soft decisions got wrong
    scale: float  # period found / 128: 0.5 for an image halved after marking
    offset: tuple[int, int]  # (dy, dx) in pixels of the inspected image where a tile begins
    mode: int = 64  # 64 (payload + 24-bit tag) or 128 (payload + 32-bit time + 32-bit tag)
    time: int | None = None  # the 32-bit time of a 128-bit mark
    angle: float = 0.0  # degrees the copy was turned by after marking (counter-clockwise as PIL rotates)


# ---------------------------------------------------------------- keyed layout and code


@dataclass(frozen=True, slots=True)
class _Layout:
    ky: I64  # n frequencies (half plane); dof j < n is the real part of coefficient j, j >= n the imaginary
    kx: I64
    band: I64  # band of each of the 2n dofs
    role: I64  # coded bit carried by each dof in the 64-bit mode, -1 for sync
    sign: F64  # keyed sign of each dof
    role128: I64  # the same for the 128-bit mode (same sync dofs, the data dofs dealt over 408 coded bits)

    def roles(self, mode: int) -> I64:
        return self.role if mode == 64 else self.role128


def _stream(key: bytes, label: bytes, n: int) -> bytes:
    return hashlib.shake_256(b"copyalign-watermark-v1\x00" + label + b"\x00" + key).digest(n)


def _lattice() -> tuple[I64, I64]:
    ks = np.arange(-KMAX, KMAX + 1)
    ky, kx = (a.ravel() for a in np.meshgrid(ks, np.arange(KMAX + 1), indexing="ij"))
    r = np.hypot(ky, kx)
    half = (kx > 0) | ((kx == 0) & (ky > 0))
    jpeg_grid = (ky % 8 == 0) & (kx % 8 == 0)  # where JPEG's block grid lands when the period is a multiple of 8
    keep = half & (r >= _BAND_EDGES[0]) & (r < _BAND_EDGES[-1]) & ~jpeg_grid
    return ky[keep].astype(np.int64), kx[keep].astype(np.int64)


def _layout(key: bytes) -> _Layout:
    ky, kx = _lattice()
    dof = 2 * ky.size
    band = np.searchsorted(np.asarray(_BAND_EDGES), np.hypot(ky, kx), side="right") - 1
    bands = np.concatenate([band, band]).astype(np.int64)
    rand = np.frombuffer(_stream(key, b"perm", 8 * dof), dtype="<u8")
    order = np.lexsort((rand, bands))  # by band, in keyed order within a band
    signs = np.unpackbits(np.frombuffer(_stream(key, b"sign", (dof + 7) // 8), dtype=np.uint8))[:dof]
    n_sync = int(round(dof * SYNC_FRACTION))
    is_sync = np.zeros(dof, dtype=bool)
    is_sync[np.floor((np.arange(n_sync) + 0.5) * dof / n_sync).astype(np.int64)] = True
    roles = []
    for mode in (64, 128):
        role = np.empty(dof, dtype=np.int64)
        role[order[is_sync]] = -1
        role[order[~is_sync]] = np.arange(dof - n_sync) % _CODED[mode]  # round robin over the sorted band
        roles.append(role)
    return _Layout(ky, kx, bands, roles[0], 1.0 - 2.0 * signs.astype(np.float64), roles[1])


def _conv_table() -> U8:
    regs = np.arange(1 << _K)
    out = np.zeros((1 << _K, len(_GENERATORS)), dtype=np.uint8)
    for j, g in enumerate(_GENERATORS):
        v = regs & g
        for b in range(_K):
            out[:, j] ^= ((v >> b) & 1).astype(np.uint8)
    return out


_OUT = _conv_table()  # output bits of each register value (state << 1 | input)


def _encode(bits: U8) -> U8:
    state, out = 0, []
    for b in [*bits.tolist(), *([0] * (_K - 1))]:
        reg = ((state << 1) | int(b)) & ((1 << _K) - 1)
        out.append(_OUT[reg])
        state = reg & ((1 << (_K - 1)) - 1)
    return np.concatenate(out).astype(np.uint8)


def _viterbi(soft: F64) -> U8:
    """Maximum-correlation path of the terminated code; ``soft`` > 0 votes for a 0 bit."""
    n_states = 1 << (_K - 1)
    steps = soft.size // len(_GENERATORS)
    metric_of = soft.reshape(steps, -1) @ (1.0 - 2.0 * _OUT.astype(np.float64)).T  # (steps, registers)
    nxt = np.arange(n_states)
    p0, p1 = nxt >> 1, (nxt >> 1) | (n_states >> 1)
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    choice = np.zeros((steps, n_states), dtype=bool)
    for t in range(steps):
        a = metric[p0] + metric_of[t, nxt]
        b = metric[p1] + metric_of[t, nxt | n_states]
        choice[t] = b > a
        metric = np.where(choice[t], b, a)
    state, bits = 0, np.zeros(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = state & 1
        state = (state >> 1) | ((n_states >> 1) if choice[t, state] else 0)
    return bits[: steps - (_K - 1)]


def _tag(key: bytes, payload: bytes) -> bytes:
    """The MAC tag: 3 bytes on an 8-byte payload (64-bit mode), 4 bytes on a 12-byte one (128-bit mode)."""
    n = TAG_BITS // 8 if len(payload) == PAYLOAD_BITS // 8 else TAG_BITS_128 // 8
    return hmac.new(_stream(key, b"mac", 32), payload, hashlib.sha256).digest()[:n]


# ---------------------------------------------------------------- pixels


def _check_image(img: object) -> U8:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise InvalidInputError("the image must be a numpy uint8 array", field="rgb")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise InvalidInputError("the image must be (H, W), (H, W, 3) or (H, W, 4)", field="rgb")
    if min(img.shape[:2]) < MIN_SIDE:
        raise InvalidInputError(f"the image must be at least {MIN_SIDE}x{MIN_SIDE} pixels", field="rgb")
    return img


def _check_key(key: object) -> bytes:
    if not isinstance(key, bytes) or len(key) < MIN_KEY:
        raise InvalidInputError(f"the key must be at least {MIN_KEY} secret bytes", field="key")
    return key


def _luma(img: U8) -> F32:
    if img.ndim == 2:
        return img.astype(np.float32)
    # BT.601 in 1/256 (77 + 150 + 29 = 256): adding d to R, G and B adds exactly d to this luma
    c = img[..., :3]
    y = c[..., 0] * np.uint16(77) + c[..., 1] * np.uint16(150) + c[..., 2] * np.uint16(29)
    return np.asarray(y, dtype=np.float32) * np.float32(1.0 / 256.0)


def _block_mean(a: F32, b: int) -> F32:
    h, w = a.shape
    hb, wb = -(-h // b), -(-w // b)
    if (hb * b, wb * b) != (h, w):
        a = np.pad(a, ((0, hb * b - h), (0, wb * b - w)), mode="edge")
    s = a.reshape(hb, b, wb * b).sum(axis=1).reshape(hb, wb, b).sum(axis=2)
    return np.asarray(s * (1.0 / (b * b)), dtype=np.float32)


def _upsample(c: F32, b: int, h: int, w: int) -> F32:
    """Bilinear interpolation of block values (block centres) back to h x w pixels."""

    def coords(n: int, m: int) -> tuple[IP, IP, F32]:
        p = np.clip((np.arange(n, dtype=np.float32) + 0.5) / b - 0.5, 0, m - 1)
        i0 = np.floor(p).astype(np.intp)
        return i0, np.minimum(i0 + 1, m - 1), (p - i0).astype(np.float32)

    i0, i1, fy = coords(h, c.shape[0])
    j0, j1, fx = coords(w, c.shape[1])
    r = c[i0] * (1 - fy)[:, None] + c[i1] * fy[:, None]
    out = r[:, j0]
    out *= 1 - fx
    out += r[:, j1] * fx
    return out.astype(np.float32, copy=False)


def _analyse(y: F32, b: int) -> tuple[F32, F32]:
    """High-pass of the luma (minus its smoothed block means) and its local standard deviation."""
    h, w = y.shape
    hp = y - _upsample(_block_mean(y, b), b, h, w)
    return hp, np.sqrt(_upsample(_block_mean(hp * hp, b), b, h, w))


def _residual(y: F32, b: int) -> F32:
    """What the detector correlates: the high-pass in units of local contrast (brightness and texture cancel)."""
    hp, sd = _analyse(y, b)
    sd += 1.0
    hp /= sd
    return np.clip(hp, -3.0, 3.0, out=hp)


def _block_for(period: float) -> int:
    return max(2, int(round(period / 16.0)))


def _erode(c: F32) -> F32:
    p = np.pad(c, 1, mode="edge")
    h, w = c.shape
    out = c.copy()
    for dy in range(3):
        for dx in range(3):
            np.minimum(out, p[dy : dy + h, dx : dx + w], out=out)
    return out


def _mask4(y2: F32) -> F32:
    """Amplitude in units of ``strength`` on a grid of 4 x 4 pixels, from the half-resolution luma."""
    hp2 = y2 - _upsample(_block_mean(y2, 4), 4, *y2.shape)
    gy = np.zeros_like(y2)
    gx = np.zeros_like(y2)
    gy[1:-1] = y2[2:] - y2[:-2]
    gx[:, 1:-1] = y2[:, 2:] - y2[:, :-2]
    jxx, jyy, jxy = _block_mean(gx * gx, 4), _block_mean(gy * gy, 4), _block_mean(gx * gy, 4)
    coherence = ((jxx - jyy) ** 2 + 4 * jxy**2) / ((jxx + jyy) ** 2 + 1e-3)  # 1 on an edge, ~0 in texture
    act2 = np.sqrt(_block_mean(hp2 * hp2, 2))
    act2 *= 1.0 - EDGE * np.sqrt(_upsample(coherence.astype(np.float32), 2, *act2.shape))
    return np.asarray(np.clip(_erode(act2) / MASK_REF, MASK_FLOOR, MASK_MAX), dtype=np.float32)


def _raise_floor(m4: F32, strength: float) -> F32:
    """Lift the flat areas' amplitude until the mark's rms reaches ``MIN_RMS`` (of ``strength`` = 9): a photo
    is textured enough to reach it already, a chart or a diagram (flat but for its edges) is not, and at ~1 grey
    level its flat areas would not survive JPEG 50."""
    target = MIN_RMS * strength / DEFAULT_STRENGTH
    if strength <= 0 or float(np.sqrt(np.mean(m4 * m4))) >= target:
        return m4
    lo, hi = 0.0, target * 1.5
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(np.sqrt(np.mean(np.maximum(m4, mid) ** 2))) < target else (lo, mid)
    return np.maximum(m4, np.float32(hi))


def _rms_cap(sd2: F32) -> float:
    """The most rms the mark may have: 38.5 dB of PSNR, or in a texture TEXTURE_SHARE of its median local
    contrast (``sd2``, the band's local standard deviation at half resolution), down to TEXTURE_MIN_PSNR."""
    plain = 255.0 / 10 ** (MIN_PSNR / 20)
    texture = min(TEXTURE_SHARE * float(np.median(sd2)), 255.0 / 10 ** (TEXTURE_MIN_PSNR / 20))
    return max(plain, texture)


# ---------------------------------------------------------------- spectra


def _fold(r: npt.NDArray[np.floating], p: int) -> F64:
    h, w = r.shape
    hh, ww = -(-h // p) * p, -(-w // p) * p
    if (hh, ww) != (h, w):
        r = np.pad(r, ((0, hh - h), (0, ww - w)))
    return np.asarray(r.reshape(hh // p, p, ww // p, p).sum(axis=(0, 2), dtype=np.float64), dtype=np.float64)


def _dofs_of_tile(layout: _Layout, tile: F64) -> F64:
    """The dofs of the periodic DFT (``exp(-2 pi i k x / p)``) of a p x p tile."""
    f = np.fft.rfft2(tile)
    v = f[layout.ky % tile.shape[0], layout.kx]
    return np.concatenate([v.real, v.imag])


def _tile(layout: _Layout, values: F64, size: int) -> F64:
    n = layout.ky.size
    coef = values[:n] + 1j * values[n:]
    spec = np.zeros((size, size // 2 + 1), dtype=np.complex128)
    spec[layout.ky % size, layout.kx] = coef
    z = layout.kx == 0
    spec[(-layout.ky[z]) % size, 0] = np.conj(coef[z])
    return np.fft.irfft2(spec, s=(size, size))


def _hp_response(layout: _Layout, b: float, p: float) -> F64:
    """Response of ``_analyse``'s high-pass (block mean b, then bilinear) at the tile frequencies, per dof."""
    h = 1.0 - (np.sinc(layout.ky * b / p) * np.sinc(layout.kx * b / p)) ** 3
    return np.concatenate([h, h]).astype(np.float64)


def _per_band(layout: _Layout, v: F64, use: B, how: str = "mean") -> F64:
    out = np.zeros_like(v)
    for b in range(len(_BAND_EDGES) - 1):
        sel = layout.band == b
        if np.any(sel & use):
            x = v[sel & use]
            out[sel] = np.mean(x) if how == "mean" else np.sqrt(np.mean(x * x))
    return out


# ---------------------------------------------------------------- embedding


def _targets(layout: _Layout, coded: U8, mode: int) -> F64:
    val = 1.0 - 2.0 * coded.astype(np.float64)
    role = layout.roles(mode)
    return np.where(role < 0, layout.sign, layout.sign * val[np.maximum(role, 0)])


def _informed(layout: _Layout, help_: F64, g: F64, noise: F64, beta: F64, mode: int) -> F64:
    """Amplitudes ``beta * alpha`` (mean square 1), one alpha per coded bit, so that every coded bit's weighted
    sum reaches tau times its noise with tau as large as the budget allows; a bit the host opposes by more than
    A_HI can buy is given up to the code (at most GIVE_UP of them)."""
    data = layout.role >= 0
    role = layout.roles(mode)[data]
    nc = _CODED[mode]
    ge = g * beta
    w = ge / noise**2
    hsum = np.bincount(role, weights=(w * help_)[data], minlength=nc)
    gsum = np.bincount(role, weights=(w * ge)[data], minlength=nc)
    nsum = np.sqrt(np.bincount(role, weights=((w * noise) ** 2)[data], minlength=nc))
    cost = np.bincount(role, weights=(beta * beta)[data], minlength=nc)
    taus = np.linspace(0.0, 12.0, 241)[:, None]
    need = (taus * nsum[None, :] - hsum[None, :]) / gsum[None, :]
    lost = need > A_HI
    alpha = np.where(lost, A_LO, np.clip(need, A_LO, A_HI))
    energy = ((alpha * alpha) @ cost + float(np.sum((beta * beta)[~data]))) / data.size
    frac = np.where(energy <= 1.0, np.mean(lost, axis=1), np.inf)
    i = int(np.flatnonzero(frac <= max(GIVE_UP, float(frac.min())))[-1])
    out = np.ones(data.size)
    out[data] = alpha[i][role]
    out *= beta
    return np.asarray(out / np.sqrt(np.mean(out * out)), dtype=np.float64)


_Q50 = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float32,
)
_D8 = (np.cos((2 * np.arange(8)[None, :] + 1) * np.arange(8)[:, None] * np.pi / 16) * np.sqrt(2 / 8)).astype(np.float32)
_D8[0] /= np.sqrt(2)


def _jpeg50(y: F32) -> F32:
    """The luma through JPEG quality 50's quantisation (standard table, orthonormal 8 x 8 DCT)."""
    h, w = y.shape
    h8, w8 = -(-h // 8) * 8, -(-w // 8) * 8
    p = np.pad(y, ((0, h8 - h), (0, w8 - w)), mode="edge") - 128.0
    blocks = p.reshape(h8 // 8, 8, w8 // 8, 8).transpose(0, 2, 1, 3)
    c = np.rint((_D8 @ blocks @ _D8.T) / _Q50) * _Q50
    back = (_D8.T @ c @ _D8).transpose(0, 2, 1, 3).reshape(h8, w8)[:h, :w] + 128.0
    return np.asarray(np.clip(back, 0.0, 255.0), dtype=np.float32)


def _band_energy(layout: _Layout, t: F64, clean: tuple[F64, F64], attacked: tuple[F64, F64]) -> F64:
    """Per-dof amplitude factors: each band's energy follows the SNR it keeps both clean and attacked."""
    nb = len(_BAND_EDGES) - 1
    score = np.zeros(nb)
    counts = np.zeros(nb)
    for b in range(nb):
        sel = layout.band == b
        counts[b] = np.sum(sel)
        snr2 = []
        for host, marked in (clean, attacked):
            gain = float(np.mean(t[sel] * (marked[sel] - host[sel])))
            noise = float(np.std(t[sel] * marked[sel] - gain)) + 1e-9
            snr2.append(max(gain, 0.0) ** 2 / noise**2)
        score[b] = snr2[0] * snr2[1] / (snr2[0] + snr2[1] + 1e-12)
    e = np.clip(score / (float(np.sum(score * counts) / np.sum(counts)) + 1e-12), E_LO, E_HI)
    beta = np.sqrt(e)[layout.band]
    return np.asarray(beta / np.sqrt(np.mean(beta * beta)), dtype=np.float64)


def embed_watermark(
    rgb: U8, payload: bytes, *, key: bytes, strength: float = DEFAULT_STRENGTH, time: int | None = None
) -> U8:
    """Mark an image with an 8-byte payload (the trace id) under a secret key, and a time in the 128-bit mode.

    Args:
        rgb: (H, W, 3) or (H, W, 4) or (H, W) uint8 pixels, at least 128 x 128 (384 x 384 with ``time``); alpha
            is kept untouched.
        payload: exactly 8 bytes.
        key: the secret (>= 16 bytes) that detection will need.
        time: None for the 64-bit mode (payload + 24-bit tag); an integer in [0, 2^32) for the 128-bit mode
            (payload + this time + 32-bit tag), which needs ``MIN_SIDE_128`` pixels on the shorter side.
        strength: amplitude in grey levels where the image is textured (flat areas get a tenth of it); the
            PSNR never drops below 38.5 dB whatever the strength (35 dB in a strong texture, see
            ``TEXTURE_SHARE``).

    Returns:
        A new array of the same shape and dtype: the luma of the first three channels changed, equally in R, G
        and B (so the colours' chroma is not).

    Raises:
        InvalidInputError: a bad image, payload, key, strength or time (or a time on an image too small for it).

    Example:
        >>> import numpy as np
        >>> img = np.random.default_rng(1).integers(80, 176, (512, 512, 3), dtype=np.uint8)
        >>> marked = embed_watermark(img, b"trace-02", key=b"0123456789abcdef", time=1_700_000_000)
        >>> found = detect_watermark(marked, key=b"0123456789abcdef")
        >>> found.mode, found.payload, found.time
        (128, b'trace-02', 1700000000)
    """
    img = _check_image(rgb)
    if not isinstance(payload, bytes) or len(payload) != PAYLOAD_BITS // 8:
        raise InvalidInputError(f"the payload must be exactly {PAYLOAD_BITS // 8} bytes", field="payload")
    layout = _layout(_check_key(key))
    if not np.isfinite(strength) or strength < 0:
        raise InvalidInputError("strength must be a non-negative number", field="strength")
    mode = 64
    if time is not None:
        if isinstance(time, bool) or not isinstance(time, int) or not 0 <= time < 2**TIME_BITS:
            raise InvalidInputError(f"time must be an integer in [0, 2^{TIME_BITS})", field="time")
        if min(img.shape[:2]) < MIN_SIDE_128:
            raise InvalidInputError(
                f"the 128-bit mode (with a time) needs at least {MIN_SIDE_128}x{MIN_SIDE_128} pixels", field="time"
            )
        mode, payload = 128, payload + time.to_bytes(TIME_BITS // 8, "big")
    bits = np.unpackbits(np.frombuffer(payload + _tag(key, payload), dtype=np.uint8))
    t = _targets(layout, _encode(bits), mode)
    h, w = img.shape[:2]
    y2 = _block_mean(_luma(img), 2)
    m4 = _raise_floor(_mask4(y2) * np.float32(strength), strength)
    bw = _block_for(WORK)
    hp2, sd2 = _analyse(y2, bw)
    m4 *= np.float32(min(1.0, _rms_cap(sd2) / max(float(np.sqrt(np.mean(m4 * m4))), 1e-9)))
    mask2 = _upsample(m4, 2, *y2.shape)
    rms = float(np.sqrt(np.mean(_tile(layout, layout.sign, TILE) ** 2)))

    def half_tile(values: F64) -> F64:
        return np.asarray(
            (_tile(layout, values, TILE) / rms).reshape(WORK, 2, WORK, 2).mean(axis=(1, 3)), dtype=np.float64
        )

    # everything below models what the detector sees of an unattacked copy: half resolution, period 64
    x = _dofs_of_tile(layout, _fold(np.clip(hp2 / (sd2 + 1.0), -3.0, 3.0), WORK))
    qf = _fold(mask2 / (np.sqrt(sd2 * sd2 + mask2 * mask2) + 1.0), WORK)  # the mark's weight in the residual
    fy, fx = np.fft.fftfreq(WORK)[:, None], np.fft.rfftfreq(WORK)[None, :]
    hp_grid = 1.0 - (np.sinc(fy * bw) * np.sinc(fx * bw)) ** 3

    def model(values: F64) -> F64:
        """The dofs the mark with these values adds to the detector's fold (linear in the values)."""
        wt = half_tile(values)
        return _dofs_of_tile(layout, np.fft.irfft2(np.fft.rfft2(wt) * hp_grid, s=wt.shape) * qf)

    m_t = model(t)
    everywhere = np.ones(t.size, dtype=bool)
    g = np.maximum(_per_band(layout, t * m_t, everywhere), 1e-9)
    noise = np.maximum(_per_band(layout, x, everywhere, "rms"), 1e-6 * float(np.max(g)))
    n = min(*y2.shape, 384)  # the attack simulation sees a central crop (statistics per band only)
    oy, ox = (y2.shape[0] - n) // 2 // WORK * WORK, (y2.shape[1] - n) // 2 // WORK * WORK  # tile-aligned
    sl = (slice(oy, oy + n), slice(ox, ox + n))
    probe = y2[sl] + mask2[sl] * np.tile(half_tile(t), (-(-n // WORK), -(-n // WORK)))[:n, :n].astype(np.float32)
    xa = _dofs_of_tile(layout, _fold(_residual(_jpeg50(y2[sl]), bw), WORK))
    xap = _dofs_of_tile(layout, _fold(_residual(_jpeg50(probe), bw), WORK))
    beta = _band_energy(layout, t, (x, x + m_t), (xa, xap))
    a = _informed(layout, t * x, g, noise, beta, mode)
    for _ in range(ITERATIONS):
        margin = t * (x + model(t * a))
        a = _informed(layout, margin - g * a, g, noise, beta, mode)  # what the model's diagonal misses counts as host
    tile = (_tile(layout, t * a, TILE) / rms).astype(np.float32)
    delta = _upsample(m4, 4, h, w)
    delta *= np.tile(tile, (-(-h // TILE), -(-w // TILE)))[:h, :w]
    d = np.rint(delta).astype(np.int16)
    out = img.copy()
    if img.ndim == 2:
        out[:] = np.clip(img + d, 0, 255).astype(np.uint8)
    else:
        out[..., :3] = np.clip(img[..., :3] + d[..., None], 0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------- detection


def _remove_blocking(r: F32) -> F32:
    """Subtract the 8 x 8-periodic part (JPEG's block grid), which would otherwise pass for a tile."""
    h, w = r.shape
    hh, ww = h // 8 * 8, w // 8 * 8
    blk = r[:hh, :ww].reshape(hh // 8, 8, ww // 8, 8).mean(axis=(0, 2))
    return np.asarray(r - np.tile(blk, (-(-h // 8), -(-w // 8)))[:h, :w], dtype=np.float32)


def _box(a: F64, k: int) -> F64:
    p = k // 2
    c = np.pad(np.cumsum(np.cumsum(np.pad(a, p, mode="reflect"), axis=0), axis=1), ((1, 0), (1, 0)))
    h, w = a.shape
    return (c[k : k + h, k : k + w] - c[:h, k : k + w] - c[k : k + h, :w] + c[:h, :w]) / float(k * k)


def _rotation(period: float, angle: float) -> F64:
    """The tile coordinates of pixel (y, x) are ``M @ (y, x)``: M for a tile of this period turned by this angle."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]], dtype=np.float64) / period


def _max3(a: F32) -> F32:
    """3 x 3 maximum filter of a (cyclic) spectrum."""
    p = np.pad(a, 1, mode="wrap")
    h, w = a.shape
    out = a.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(out, p[dy : dy + h, dx : dx + w], out=out)
    return out


def _lattice_scores(white: F32, periods: F64, angles: F64) -> F64:
    """Mean of ``white`` (the power spectrum of an n x n crop, full plane) interpolated at the tile lattice's
    frequencies ``M^T k`` for every (angle, period) pair. Every frequency stays inside the spectrum: |k| < 19 and
    periods >= 48 put it below 0.4 n bins."""
    n = white.shape[0]
    ky, kx = (a.astype(np.float64) for a in _lattice())
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    scale = (n / periods)[None, :, None]
    fy = (c * ky + s * kx)[:, None, :] * scale  # (angles, periods, points), in bins
    fx = (c * kx - s * ky)[:, None, :] * scale
    y0, x0 = np.floor(fy), np.floor(fx)
    ty, tx = fy - y0, fx - x0
    iy, ix = y0.astype(np.intp) % n, x0.astype(np.intp) % n
    iy1, ix1 = (iy + 1) % n, (ix + 1) % n
    v = (white[iy, ix] * (1 - ty) + white[iy1, ix] * ty) * (1 - tx)
    v += (white[iy, ix1] * (1 - ty) + white[iy1, ix1] * ty) * tx
    return np.asarray(v.mean(axis=2), dtype=np.float64)


def _comb(r: F32, lo: float, hi: float) -> tuple[list[tuple[float, float, float]], F32]:
    """(period, angle, z) candidates, the best turned ones and the best upright ones, and the whitened spectrum
    that ``_fine`` refines them on.

    The locally whitened power spectrum of the crop, sampled on a log-polar grid, is cross-correlated with the
    tile lattice's own log-polar points (one 2-D FFT): a scale of the tile is a shift along log-radius, a turn a
    shift along the angle, so every (period, angle) pair is scored at once (the Fourier-Mellin idea of Pereira &
    Pun 2000, on the lattice the periodic tile puts in the spectrum as Kutter 1998 reads it). The spectrum is
    maximum-filtered over 3 x 3 bins first, so that the 0.5-degree, 0.5 %-period grid misses no peak."""
    n = min(r.shape)
    hi = min(hi, n / 2.0)
    f = np.fft.fft2(r[:n, :n])
    pw = f.real**2 + f.imag**2
    white = np.minimum(pw / (_box(pw, 9) + 1e-9), 10.0).astype(np.float32)
    if hi <= lo:
        return [], white
    ky, kx = _lattice()
    rho, phi = np.hypot(ky, kx), np.degrees(np.arctan2(ky, kx))
    r0 = n * float(rho.min()) / hi
    na = int(np.ceil(np.log(n * float(rho.max()) / lo / r0) / COMB_LOG_STEP)) + 1
    nb = int(round(180.0 / COMB_ANGLE_STEP))  # the power spectrum is even: 180 degrees are all the angles
    ra = r0 * np.exp(np.arange(na) * COMB_LOG_STEP)[:, None]
    th = np.radians(np.arange(nb) * COMB_ANGLE_STEP)[None, :]
    polar = _max3(white)[np.rint(ra * np.sin(th)).astype(np.intp) % n, np.rint(ra * np.cos(th)).astype(np.intp) % n]
    nj = int(np.log(hi / lo) / COMB_LOG_STEP) + 1  # periods lo * exp(j * step)
    rows = np.rint((np.log(n * rho / lo) - np.log(r0)) / COMB_LOG_STEP).astype(np.intp)
    cols = np.rint(phi / COMB_ANGLE_STEP).astype(np.intp) % nb
    template = np.zeros((na + nj, nb))
    np.add.at(template, (rows, cols), 1.0)
    # score[j, i] = sum_k polar[row_k - j, col_k + i] / K: lag j along log-radius, -i along the angle
    corr = (
        np.fft.irfft2(np.fft.rfft2(template) * np.conj(np.fft.rfft2(polar, s=template.shape)), s=template.shape)
        / rows.size
    )
    ni = int(ANGLE_MAX / COMB_ANGLE_STEP)
    sc = corr[:nj][:, (-np.arange(-ni, ni + 1)) % nb]  # (periods, angles)
    # the upright column is scored again, exactly: the lattice interpolated on the whitened spectrum itself, with
    # no maximum filter (which lifts the noise as much as the peaks: on grass and gravel the comb's upright z of a
    # rescaled copy was ~1, the exact one 4 to 10) and no log-polar rounding; 41 times fewer points than the
    # whole grid, so it costs ~10 ms
    sc[:, ni] = _lattice_scores(white, lo * np.exp(np.arange(nj) * COMB_LOG_STEP), np.zeros(1))[0]
    z = np.empty_like(sc)
    for cols in (np.arange(sc.shape[1]) != ni, np.arange(sc.shape[1]) == ni):  # each scored on its own scale
        med = float(np.median(sc[:, cols]))
        z[:, cols] = (sc[:, cols] - med) / (float(np.median(np.abs(sc[:, cols] - med))) * 1.4826 + 1e-12)
    # the best turned peaks, and the best upright ones: most copies are not turned, and the upright column
    # alone is a search over 41 times fewer hypotheses (a weak mark's peak can win there and lose overall)
    z_turned = z.copy()
    z_turned[:, ni] = -np.inf
    out: list[tuple[float, float, float]] = []
    for pool, want in (
        (np.argsort(z_turned, axis=None)[::-1][:200], COMB_TURNED),
        (np.argsort(z[:, ni])[::-1] * z.shape[1] + ni, COMB_UPRIGHT),
    ):
        picked: list[tuple[float, float, float]] = []
        for flat in pool:
            j, i = divmod(int(flat), sc.shape[1])
            p, a = lo * float(np.exp(j * COMB_LOG_STEP)), float(np.radians((i - ni) * COMB_ANGLE_STEP))
            # distinct within its group: an upright peak near a turned one is still proposed (as upright)
            if all(abs(np.log(p / q)) > 0.03 or abs(a - b) > np.radians(2.0) for q, b, _ in picked):
                picked.append((p, a, float(z[j, i])))
            if len(picked) == want:
                break
        out += picked
    return out, white


def _fine(white: F32, p: float, a: float) -> tuple[float, float]:
    """A coarse (period, angle) refined on the interpolated spectrum: to 0.1 degree and 0.2 %, then a quarter;
    an upright one stays upright."""
    for span, steps in ((1.0, 11), (0.25, 9)):
        dp = np.linspace(-span, span, steps) * 1.6 * COMB_LOG_STEP
        da = np.radians(np.linspace(-span, span, steps) * 1.2 * COMB_ANGLE_STEP) if a != 0.0 else np.zeros(1)
        sc = _lattice_scores(white, p * np.exp(dp), a + da)
        i, j = divmod(int(np.argmax(sc)), dp.size)
        p, a = p * float(np.exp(dp[j])), a + float(da[i])
    return p, a


def _bins(start: int, stop: int, p: float, nb: int) -> tuple[IP, IP, IP]:
    """Pixels start..stop-1 folded at period p into nb bins: their order by bin, group starts, group bins."""
    b = np.minimum((np.arange(start, stop) % p) * (nb / p), nb - 1).astype(np.intp)
    order = np.argsort(b, kind="stable")
    sb = b[order]
    starts = np.flatnonzero(np.r_[True, sb[1:] != sb[:-1]])
    return order + start, starts, sb[starts]


def _spectrum(r: F32, m: F64, rows: tuple[int, int], cols: tuple[int, int], oversample: int = OVERSAMPLE) -> C128:
    """Periodic DFT at the band frequencies, shape (2K+1, K+1), of r[rows, cols] (positions counted from the
    image's origin) for the tile geometry m: folded into bins of about 1/oversample pixel, then one FFT (no BLAS:
    it behaves the same on a busy machine). An upright tile folds per axis; a turned one bins every pixel by its
    tile coordinates (one bincount)."""
    ks = np.arange(-KMAX, KMAX + 1)
    if m[0, 1] == 0.0 and m[1, 0] == 0.0:
        py, px = 1.0 / m[0, 0], 1.0 / m[1, 1]
        ny, nx = int(np.ceil(py * oversample)), int(np.ceil(px * oversample))
        oy, sy, gy = _bins(*rows, py, ny)
        ox, sx, gx = _bins(*cols, px, nx)
        folded = np.zeros((ny, r.shape[1]), dtype=np.float64)
        folded[gy] = np.add.reduceat(r[oy], sy, axis=0, dtype=np.float64)
        tile = np.zeros((ny, nx), dtype=np.float64)
        tile[:, gx] = np.add.reduceat(folded[:, ox], sx, axis=1)
    else:
        ny = nx = int(np.ceil(oversample / np.sqrt(abs(np.linalg.det(m)))))
        y = np.arange(*rows, dtype=np.float32)
        x = np.arange(*cols, dtype=np.float32)
        m = m.astype(np.float32)  # tile coordinates of a few tens of tiles: float32 keeps them to 1e-5 tile
        u = (m[0, 0] * y)[:, None] + (m[0, 1] * x)[None, :]
        v = (m[1, 0] * y)[:, None] + (m[1, 1] * x)[None, :]
        iu = np.asarray(np.minimum(((u - np.floor(u)) * ny).astype(np.intp), ny - 1), dtype=np.intp)
        iv = np.minimum(((v - np.floor(v)) * nx).astype(np.intp), nx - 1)
        iu *= nx
        iu += iv
        sub = r[rows[0] : rows[1], cols[0] : cols[1]]
        binned = np.bincount(iu.ravel(), weights=sub.ravel(), minlength=ny * nx)
        tile = np.asarray(binned, dtype=np.float64).reshape(ny, nx)
    # bin b holds positions around (b + 1/2) / n tiles: the bins' transform, moved by half a bin
    phase = np.exp(-1j * np.pi * ks / ny)[:, None] * np.exp(-1j * np.pi * np.arange(KMAX + 1) / nx)[None, :]
    return np.asarray(np.fft.rfft2(tile)[ks % ny][:, : KMAX + 1] * phase, dtype=np.complex128)


@dataclass
class _Prepared:
    """What detection computes before it needs the key: reused when one image is read with many keys."""

    levels: list[F32]
    geometries: list[tuple[float, float]]  # candidate (period at full resolution, angle in radians)
    residuals: dict[tuple[int, int], F32] = field(default_factory=dict)
    spectra: dict[tuple[int, int, bytes, int], C128] = field(default_factory=dict)

    def level_for(self, p: float) -> int:
        d = 0
        while p / 2 ** (d + 1) >= P_LO and d + 1 < len(self.levels):
            d += 1
        return d

    def residual(self, d: int, b: int) -> F32:
        if (d, b) not in self.residuals:
            self.residuals[d, b] = _residual(self.levels[d], b)
        return self.residuals[d, b]

    def spectrum(self, d: int, b: int, m: F64, part: int = -1) -> C128:
        """The whole image's spectrum (part -1), a quadrant's (part 0..3: top-left, top-right, ...) or that of
        the central SEARCH_SIDE square (part 4)."""
        k = (d, b, m.tobytes(), part)
        if k not in self.spectra:
            r = self.residual(d, b)
            h, w = r.shape
            rows = ((0, h // 2), (h // 2, h))[part // 2] if 0 <= part < 4 else (0, h)
            cols = ((0, w // 2), (w // 2, w))[part % 2] if 0 <= part < 4 else (0, w)
            if part == 4:
                cy, cx = max(0, (h - SEARCH_SIDE) // 2), max(0, (w - SEARCH_SIDE) // 2)
                rows, cols = (cy, min(h, cy + SEARCH_SIDE)), (cx, min(w, cx + SEARCH_SIDE))
            # the angle search (part 4) bins by half pixels: 4 % less amplitude at the top frequency, 4 x cheaper
            self.spectra[k] = _spectrum(r, m, rows, cols, 2 if part == 4 else OVERSAMPLE)
        return self.spectra[k]


def _prepare(img: U8) -> _Prepared:
    levels = [_luma(img)]
    while min(levels[-1].shape) >= 2 * MIN_SIDE and len(levels) < 4:
        levels.append(_block_mean(levels[-1], 2))
    cands: list[tuple[float, float, float, int]] = []
    whites: list[F32] = []
    for d, y in enumerate(levels):
        n = min(*y.shape, 384)
        oy, ox = (y.shape[0] - n) // 2, (y.shape[1] - n) // 2
        r = _remove_blocking(_residual(y[oy : oy + n, ox : ox + n], 4))
        found, white = _comb(r, P_LO, P_HI if d < len(levels) - 1 else np.inf)
        cands += [(p, a, z, d) for p, a, z in found]
        whites.append(white)
    turned = sorted((c for c in cands if c[1] != 0.0), key=lambda c: -c[2])[:COMB_TURNED]
    upright = sorted((c for c in cands if c[1] == 0.0), key=lambda c: -c[2])[:COMB_UPRIGHT]
    best = [(*_fine(whites[d], p, a), d) for p, a, _, d in sorted(turned + upright, key=lambda c: -c[2])]
    geometries: list[tuple[float, float]] = []
    for p, a in [*((p * 2**d, a) for p, a, d in best), (float(TILE), 0.0), (TILE / 2.0, 0.0)]:
        if all(abs(np.log(p / q)) > 0.002 or abs(a - b) > 0.002 for q, b in geometries):
            geometries.append((p, a))
    return _Prepared(levels, geometries)


@dataclass(frozen=True)
class _Sync:
    m: F64  # tile geometry at the working level: tile coordinates per pixel
    uy: float  # tile offset, in tiles
    ux: float
    z: float
    v: F64  # dofs of the whole image
    noise2: F64  # their mean square per band
    weight: F64

    @property
    def period(self) -> float:
        return float(1.0 / np.sqrt(abs(np.linalg.det(self.m))))


def _surfaces(layout: _Layout, v: C128) -> F64:
    """``Re sum_k v_k exp(-2 pi i k.u)`` at every offset u of a Q x Q grid of the tile, for each row of v (one
    value per half-plane frequency): a real inverse FFT of the Hermitian extension, half a complex FFT's work."""
    grid = np.zeros((*v.shape[:-1], Q, Q // 2 + 1), dtype=np.complex128)
    grid[..., layout.ky % Q, layout.kx] = np.conj(v)
    on_axis = layout.kx == 0  # their mirrors (-ky, 0) are in the half spectrum too
    grid[..., (-layout.ky[on_axis]) % Q, 0] = v[..., on_axis]
    return np.asarray(np.fft.irfft2(grid, s=(Q, Q)), dtype=np.float64)


def _surface(layout: _Layout, f: C128, weight: F64) -> F64:
    """Weighted correlation of the sync dofs with spectrum f at every offset of a Q x Q grid of the tile."""
    n = layout.ky.size
    return _surfaces(layout, f[layout.ky + KMAX, layout.kx] * (weight[:n] - 1j * weight[n:]))


def _peak(c: F64, near: tuple[int, int] | None = None, radius: int = 4) -> tuple[float, float, float]:
    """Sub-cell position (in tiles) and height of a cyclic surface's maximum (near a cell, if given)."""
    if near is None:
        iy, ix = divmod(int(np.argmax(c)), Q)
    else:
        ys, xs = (near[0] + np.arange(-radius, radius + 1)) % Q, (near[1] + np.arange(-radius, radius + 1)) % Q
        jy, jx = divmod(int(np.argmax(c[np.ix_(ys, xs)])), xs.size)
        iy, ix = int(ys[jy]), int(xs[jx])

    def vertex(a: float, b: float, d: float) -> float:
        den = a - 2 * b + d
        return 0.5 * (a - d) / den if den < 0 else 0.0

    dy = vertex(c[(iy - 1) % Q, ix], c[iy, ix], c[(iy + 1) % Q, ix])
    dx = vertex(c[iy, (ix - 1) % Q], c[iy, ix], c[iy, (ix + 1) % Q])
    return (iy + dy) / Q, (ix + dx) / Q, float(c[iy, ix])


def _sync(layout: _Layout, prep: _Prepared, d: int, m: F64, part: int = -1) -> _Sync:
    b = _block_for(float(1.0 / np.sqrt(abs(np.linalg.det(m)))))
    full = prep.spectrum(d, b, m, part)
    v = np.concatenate([full[layout.ky + KMAX, layout.kx].real, full[layout.ky + KMAX, layout.kx].imag])
    noise2 = np.maximum(_per_band(layout, v * v, np.ones(v.size, dtype=bool)), 1e-12)
    p = float(1.0 / np.sqrt(abs(np.linalg.det(m))))
    weight = np.where(layout.role < 0, layout.sign * _hp_response(layout, b, p) / noise2, 0.0)
    corr = _surface(layout, full, weight)
    sd = float(corr.std())
    uy, ux, top = _peak((corr - corr.mean()) / sd if sd > 0 else np.zeros_like(corr))
    return _Sync(m, uy, ux, top, v, noise2, weight)


def _wrap(x: float) -> float:
    return (x + 0.5) % 1.0 - 0.5


def _refine(layout: _Layout, prep: _Prepared, d: int, s: _Sync) -> _Sync:
    """Correct the tile geometry (period per axis, angle, shear) from how the sync's offset drifts between the
    image's quadrants: a pattern of true geometry M' read at M drifts by (M' - M) @ (dy, dx) tiles."""
    h, w = prep.levels[d].shape
    best = s
    for _ in range(REFINE_STEPS):
        near = (int(round(best.uy * Q)) % Q, int(round(best.ux * Q)) % Q)
        quads = [prep.spectrum(d, _block_for(best.period), best.m, part) for part in range(4)]
        pos = [[_peak(_surface(layout, quads[2 * i + j], best.weight), near) for j in range(2)] for i in range(2)]
        drift = np.zeros((2, 2))
        for c in range(2):  # c: which offset (uy, ux); down: bottom - top, across: right - left
            down = 0.5 * (_wrap(pos[1][0][c] - pos[0][0][c]) + _wrap(pos[1][1][c] - pos[0][1][c]))
            across = 0.5 * (_wrap(pos[0][1][c] - pos[0][0][c]) + _wrap(pos[1][1][c] - pos[1][0][c]))
            drift[c] = (down / (h / 2.0), across / (w / 2.0))
        if best.m[0, 1] == 0.0 and best.m[1, 0] == 0.0:
            drift *= np.eye(2)  # an upright candidate stays upright, its periods per axis (a change of aspect)
        else:  # a turned one stays a turned square (angle and scale): two parameters fit the noise less than four
            a, b = 0.5 * (drift[0, 0] + drift[1, 1]), 0.5 * (drift[1, 0] - drift[0, 1])
            drift = np.array([[a, -b], [b, a]])
        step = float(np.max(np.abs(drift))) * best.period
        if step > 0.03:
            break
        m = best.m + drift
        cand = _sync(layout, prep, d, m)
        if cand.z <= best.z:
            break
        best = cand
        if step < 1e-4:
            break
    return best


def _soft(layout: _Layout, s: _Sync) -> F64:
    """Each dof's vote for its coded bit (positive: a 0 bit), weighted by the SNR its band kept."""
    n = layout.ky.size
    sync = layout.role < 0
    g = (s.v[:n] + 1j * s.v[n:]) * np.exp(-2j * np.pi * (layout.ky * s.uy + layout.kx * s.ux))
    gv = np.concatenate([g.real, g.imag])
    gain = _per_band(layout, gv * layout.sign, sync)  # what the known sync dofs say each band kept
    return np.asarray(np.where(sync, 0.0, layout.sign * gv * np.maximum(gain, 0.0) / s.noise2), dtype=np.float64)


def _decode(layout: _Layout, votes: F64, key: bytes, mode: int) -> tuple[bytes, int] | None:
    """One decode attempt in one mode: Viterbi, then the MAC check (2^-24 or 2^-32 to pass by chance)."""
    role = layout.roles(mode)
    data = role >= 0
    soft = np.asarray(np.bincount(role[data], weights=votes[data], minlength=_CODED[mode]), dtype=np.float64)
    bits = _viterbi(soft)
    raw = np.packbits(bits).tobytes()
    nd = _MODES[mode][0] // 8
    message, tag = raw[:nd], raw[nd:]
    if not hmac.compare_digest(tag, _tag(key, message)):
        return None
    return message, int(np.sum((_encode(bits) == 1) != (soft < 0)))


def _candidates(layout: _Layout, prep: _Prepared) -> Iterator[tuple[int, _Sync]]:
    """Each candidate geometry's sync, a clear one as soon as it is found, the others by decreasing z."""
    rest = []
    for p, a in prep.geometries:
        d = prep.level_for(p)
        s = _sync(layout, prep, d, _rotation(p / 2**d, a))
        if s.z >= Z_CLEAR:
            yield d, s
        else:
            rest.append((d, s))
    yield from sorted(rest, key=lambda ds: -ds[1].z)


def _found(d: int, s: _Sync, mode: int, message: bytes, errors: int) -> WatermarkDetection:
    scale = 2**d  # pixel i of level d is centred on full-resolution pixel scale * i + (scale - 1) / 2
    corner = np.linalg.solve(s.m, np.array([(-s.uy) % 1.0, (-s.ux) % 1.0])) * scale + (scale - 1) / 2
    period = s.period * scale
    p0, p1 = 1.0 / np.linalg.norm(s.m[0]) * scale, 1.0 / np.linalg.norm(s.m[1]) * scale
    offset = (int(round(corner[0] % p0)) % int(round(p0)), int(round(corner[1] % p1)) % int(round(p1)))
    angle = float(np.degrees(np.arctan2(s.m[0, 1] - s.m[1, 0], s.m[0, 0] + s.m[1, 1])))  # PIL's sense
    time = int.from_bytes(message[PAYLOAD_BITS // 8 :], "big") if mode == 128 else None
    return WatermarkDetection(
        message[: PAYLOAD_BITS // 8], s.z, errors, period / TILE, offset, mode=mode, time=time, angle=angle
    )


def _turned(layout: _Layout, prep: _Prepared) -> Iterator[tuple[int, _Sync]]:
    """The search by the key: the tile at its own size (the copy turned, not resized) turned by every angle of a
    SEARCH_STEP grid, the sync correlated on a central crop (all angles in one batch, as ``_sync`` does one);
    the clearest SEARCH_DECODES angles, distinct, read on the whole image."""
    d = prep.level_for(float(TILE))
    p = TILE / 2**d
    b = _block_for(p)
    angles = [float(a) for a in np.radians(np.arange(-ANGLE_MAX, ANGLE_MAX + 1e-9, SEARCH_STEP)) if abs(a) > 1e-9]
    n = layout.ky.size
    f = np.stack([prep.spectrum(d, b, _rotation(p, a), part=4) for a in angles])[:, layout.ky + KMAX, layout.kx]
    v2 = np.concatenate([f.real**2, f.imag**2], axis=1)
    bands = int(layout.band.max()) + 1
    onehot = (layout.band[:, None] == np.arange(bands)[None, :]).astype(np.float64)
    noise2 = np.maximum((v2 @ onehot / onehot.sum(axis=0))[:, layout.band], 1e-12)
    weight = np.where(layout.role < 0, layout.sign * _hp_response(layout, b, p), 0.0)[None, :] / noise2
    corr = _surfaces(layout, f * (weight[:, :n] - 1j * weight[:, n:]))
    sd = corr.std(axis=(1, 2))
    z = (corr.max(axis=(1, 2)) - corr.mean(axis=(1, 2))) / np.where(sd > 0, sd, np.inf)
    picked: list[float] = []
    for i in np.argsort(z)[::-1]:
        if all(abs(angles[i] - a) > np.radians(1.0) for a in picked):
            picked.append(angles[i])
            yield d, _sync(layout, prep, d, _rotation(p, angles[i]))
        if len(picked) == SEARCH_DECODES:
            break


def _detect(prep: _Prepared, key: bytes) -> WatermarkDetection | None:
    layout = _layout(key)
    for phase, budget in ((_candidates(layout, prep), MAX_DECODES - SEARCH_DECODES), (None, SEARCH_DECODES)):
        decodes = 0
        for d, found in phase if phase is not None else _turned(layout, prep):
            if found.z < Z_DECODE:
                continue
            s = _refine(layout, prep, d, found) if found.z >= Z_REFINE else found
            votes = _soft(layout, s)
            decodes += 1  # one geometry, read in both modes: a 2^-24 and a 2^-32 chance of a false tag
            for mode in (64, 128):
                res = _decode(layout, votes, key, mode)
                if res is not None:
                    return _found(d, s, mode, *res)
            if decodes >= budget:
                break
    return None


def detect_watermark(rgb: U8, *, key: bytes) -> WatermarkDetection | None:
    """Read the payload a key marked into an image, or None.

    Args:
        rgb: (H, W, 3), (H, W, 4) or (H, W) uint8 pixels, at least 128 x 128; the copy as found (re-encoded,
            resized, cropped, turned by up to 10 degrees, brightened).
        key: the secret the image was marked with.

    Returns:
        The detection (its ``mode`` 64 or 128, the ``time`` of a 128-bit mark, the ``scale`` and ``angle`` the
        copy was found at), or None when no mark made with this key is found. A non-None result has passed
        the MAC check: the chance that an image not marked with this key yields one, or that a marked one
        yields a wrong payload, is below ``FALSE_POSITIVE_BOUND`` (3.6e-7).

    Raises:
        InvalidInputError: a bad image or key.
    """
    return _detect(_prepare(_check_image(rgb)), _check_key(key))


def detect_watermark_keys(rgb: U8, *, keys: Sequence[bytes]) -> list[WatermarkDetection | None]:
    """``detect_watermark`` for several keys, analysing the image once (which provider's key marked it?).

    Every key is its own test: ``FALSE_POSITIVE_BOUND`` holds per key, so over k keys the chance of any false
    result is below k * 3.6e-7.
    """
    checked = [_check_key(k) for k in keys]
    prep = _prepare(_check_image(rgb))
    return [_detect(prep, k) for k in checked]
