"""An independent re-implementation of the reference behaviour, written from the spec.

Plain NumPy in float64 (loops where the spec describes loops); it never calls
``ocgnet_geo.models.ocgnet``. Tests compare the model against it with :data:`ATOL`.
"""

from __future__ import annotations

import math

import numpy as np

#: Largest absolute difference the oracle tests accept (float32 model vs float64 oracle).
ATOL = 1e-5

ANCHORS_KMEANS = [37, 41, 78, 84, 96, 215, 129, 129, 194, 82, 198, 179, 246, 280, 395, 342]
ANCHORS_KMEANS += [550, 573]


def anchors() -> np.ndarray:
    """Spec §6: the k-means list as (w, h) pairs, row-reversed → [9, 2] pixels."""
    return np.array(ANCHORS_KMEANS, dtype=np.float64).reshape(9, 2)[::-1].copy()


# --- click maps (spec §4) ----------------------------------------------------------------------


def gaussian_map_loop(h: int, w: int, x: float, y: float, sigma_frac: float) -> np.ndarray:
    cy, cx = int(y), int(x)
    sigma = sigma_frac * math.sqrt(h * h + w * w)
    out = np.zeros((h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            out[i, j] = math.exp(-((i - cy) ** 2 + (j - cx) ** 2) / (2 * sigma**2))
    return out


def detgeo_map_loop(h: int, w: int, x: float, y: float) -> np.ndarray:
    cy, cx = int(y), int(x)
    diag = math.sqrt(h * h + w * w)
    out = np.zeros((h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            out[i, j] = (1 - math.sqrt((i - cy) ** 2 + (j - cx) ** 2) / diag) ** 2
    return out


# --- layers --------------------------------------------------------------------------------------


def leaky(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, 0.1 * x)


def bn_eval(x: np.ndarray, w, b, mean, var, eps: float = 1e-5) -> np.ndarray:
    shape = (1, -1, 1, 1)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(
        shape
    ) + b.reshape(shape)


def conv_patchwise(x: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """Conv with kernel k, stride k, no padding: [B,Ci,H,W] × [Co,Ci,k,k] → [B,Co,H/k,W/k]."""
    b, c, h, w = x.shape
    patches = x.reshape(b, c, h // k, k, w // k, k)
    return np.einsum("bcykxl,ockl->boyx", patches, weight)


def cbr(x: np.ndarray, p: dict[str, np.ndarray], k: int = 1) -> np.ndarray:
    """Conv (stride = kernel, no bias) → BN (eval) → LeakyReLU(0.1); p has conv/bn arrays."""
    y = conv_patchwise(x, p["conv.weight"], k)
    return leaky(
        bn_eval(y, p["bn.weight"], p["bn.bias"], p["bn.running_mean"], p["bn.running_var"])
    )


def avgpool(x: np.ndarray, k: int) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // k, k, w // k, k).mean(axis=(3, 5))


def maxpool(x: np.ndarray, k: int) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // k, k, w // k, k).max(axis=(3, 5))


def bilinear(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize, align_corners=False (half-pixel centres, clamped at the edges)."""

    def weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        src = np.clip(src, 0, None)
        i0 = np.floor(src).astype(int)
        i0 = np.minimum(i0, n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, ly = weights(x.shape[2], out_h)
    x0, x1, lx = weights(x.shape[3], out_w)
    rows = x[:, :, y0] * (1 - ly)[None, None, :, None] + x[:, :, y1] * ly[None, None, :, None]
    return rows[:, :, :, x0] * (1 - lx) + rows[:, :, :, x1] * lx


# --- OCGNet blocks (spec §3) ---------------------------------------------------------------------


def mhca(x1: np.ndarray, x2: np.ndarray, p: dict[str, np.ndarray], heads: int = 8) -> np.ndarray:
    """Step 10: Q from x1, K/V from x2 (resized to x1's grid), softmax(QKᵀ/√d)V, out, × x1."""
    b, c, h, w = x1.shape
    if x2.shape != x1.shape:
        x2 = bilinear(x2, h, w)
    t1 = x1.reshape(b, c, h * w).transpose(0, 2, 1)
    t2 = x2.reshape(b, c, h * w).transpose(0, 2, 1)

    def lin(t: np.ndarray, name: str) -> np.ndarray:
        return t @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    q, k, v = lin(t1, "query"), lin(t2, "key"), lin(t2, "value")
    d = c // heads
    out = np.zeros_like(q)
    for bi in range(b):
        for hd in range(heads):
            s = slice(hd * d, (hd + 1) * d)
            logits = q[bi, :, s] @ k[bi, :, s].T / math.sqrt(d)
            logits -= logits.max(axis=1, keepdims=True)
            att = np.exp(logits)
            att /= att.sum(axis=1, keepdims=True)
            out[bi, :, s] = att @ v[bi, :, s]
    out = lin(out, "out")
    return out.transpose(0, 2, 1).reshape(b, c, h, w) * x1


def location_enhancement(early: np.ndarray, click: np.ndarray, p: dict[str, np.ndarray]):
    """Step 8: CBR(8×8/8) of [mean_c(early), avgpool4(click map)]."""
    stacked = np.concatenate([early.mean(axis=1, keepdims=True), avgpool(click, 4)], axis=1)
    return cbr(stacked, p, k=8)


def crossview_fusion(g: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 13 with an un-normalised ref [B,C,H,W]: returns (context, attn [B,1,H,W])."""
    b, c, h, w = ref.shape
    ctx = np.zeros_like(ref)
    attn = np.zeros((b, 1, h, w))
    for bi in range(b):
        gn = g[bi] / max(np.linalg.norm(g[bi]), 1e-12)
        v = ref[bi].reshape(c, h * w)
        vn = v / np.maximum(np.linalg.norm(v, axis=0, keepdims=True), 1e-12)
        score = gn @ vn
        a = (score - score.min()) / (score.max() - score.min())
        attn[bi, 0] = a.reshape(h, w)
        ctx[bi] = (a[None, :] * vn).reshape(c, h, w)
    return ctx, attn


# --- targets, loss, decode (spec §6, §7) -------------------------------------------------------


def build_target(boxes: np.ndarray, anc: np.ndarray, img: int = 1024, grid: int = 64):
    stride = img // grid
    out = []
    for x1, y1, x2, y2 in boxes.astype(np.float64):
        cx, cy = (x1 + x2) / 2 / img * grid, (y1 + y2) / 2 / img * grid
        w, h = (x2 - x1) / img * grid, (y2 - y1) / img * grid
        gi, gj = math.floor(cx), math.floor(cy)
        ious = []
        for aw, ah in anc / stride:
            inter = min(w, aw) * min(h, ah)
            ious.append(inter / (w * h + aw * ah - inter + 1e-16))
        best = int(np.argmax(ious))
        aw, ah = anc[best] / stride
        t = (cx - gi, cy - gj, math.log(w / aw + 1e-16), math.log(h / ah + 1e-16))
        out.append((t, best, gj, gi))
    return out


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def loss(raw: np.ndarray, targets) -> tuple[float, float]:
    """(loss_geo, loss_cls) for raw [B,45,G,G] and build_target output."""
    b, _, g, _ = raw.shape
    pred = raw.reshape(b, 9, 5, g, g).astype(np.float64)
    sq = np.zeros(4)
    ce = 0.0
    for bi, (t, a, gj, gi) in enumerate(targets):
        sel = pred[bi, a, :, gj, gi]
        sq += (sigmoid(sel[0]) - t[0]) ** 2, (sigmoid(sel[1]) - t[1]) ** 2, 0, 0
        sq[2] += (sel[2] - t[2]) ** 2
        sq[3] += (sel[3] - t[3]) ** 2
        logits = pred[bi, :, 4].reshape(-1)
        m = logits.max()
        lse = m + math.log(np.exp(logits - m).sum())
        ce += lse - logits[a * g * g + gj * g + gi]
    return float(sq.sum() / b), float(ce / b)


def decode_best(raw: np.ndarray, anc: np.ndarray, img: int = 1024) -> np.ndarray:
    """[B, 4] xyxy of the max-confidence anchor-cell."""
    b, _, g, _ = raw.shape
    pred = raw.reshape(b, 9, 5, g, g).astype(np.float64)
    stride = img // g
    out = np.zeros((b, 4))
    for bi in range(b):
        a, gj, gi = np.unravel_index(np.argmax(pred[bi, :, 4]), (9, g, g))
        tx, ty, tw, th = pred[bi, a, :4, gj, gi]
        cx, cy = (sigmoid(tx) + gi) * stride, (sigmoid(ty) + gj) * stride
        w, h = math.exp(tw) * anc[a, 0], math.exp(th) * anc[a, 1]
        out[bi] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return out


# --- ConvNeXt-Tiny query branch (the README's variant, spec §3 last paragraph) -----------------
#
# torchvision's convnext_tiny: stem = 4x4/4 conv + LayerNorm; 4 stages of (3, 3, 9, 3) blocks of
# (96, 192, 384, 768) channels, a LayerNorm + 2x2/2 conv between stages. A block: depthwise 7x7
# conv (pad 3) -> LayerNorm over channels (channels-last, eps 1e-6) -> Linear(C, 4C) -> GELU
# (exact, erf) -> Linear(4C, C) -> times layer_scale -> plus the block's input. OCGNet takes
# the stem output as its early feature and projects the last stage with a 1x1 conv to 512.

CONVNEXT_DEPTHS = (3, 3, 9, 3)
_ERF = np.frompyfunc(math.erf, 1, 1)


def layer_norm_channels(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-6):
    """LayerNorm of [B, C, H, W] over C at every pixel (biased variance)."""
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)).astype(np.float64))


def depthwise_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel k x k conv, stride 1, zero padding k // 2: [B,C,H,W] x [C,1,k,k] + [C]."""
    _, _, h, wd = x.shape
    k = w.shape[-1]
    pad = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros_like(x)
    for dy in range(k):
        for dx in range(k):
            out += w[None, :, 0, dy, dx, None, None] * xp[:, :, dy : dy + h, dx : dx + wd]
    return out + b.reshape(1, -1, 1, 1)


def convnext_block(x: np.ndarray, p: dict[str, np.ndarray], name: str) -> np.ndarray:
    """One torchvision CNBlock (eval: no stochastic depth); ``name`` ends with a dot."""
    y = depthwise_conv(x, p[name + "block.0.weight"], p[name + "block.0.bias"])
    y = layer_norm_channels(y, p[name + "block.2.weight"], p[name + "block.2.bias"])
    t = y.transpose(0, 2, 3, 1)  # channels-last for the two Linear layers
    t = gelu(t @ p[name + "block.3.weight"].T + p[name + "block.3.bias"])
    t = t @ p[name + "block.5.weight"].T + p[name + "block.5.bias"]
    return x + p[name + "layer_scale"].reshape(1, -1, 1, 1) * t.transpose(0, 3, 1, 2)


def convnext_tiny_query(
    x: np.ndarray, p: dict[str, np.ndarray], prefix: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """(deep [B,512,H/32,W/32], early [B,96,H/4,W/4]) of the ConvNeXt-T query branch for the
    fused query ``x`` [B,3,H,W]; weights ``p`` by official name after ``prefix`` (the
    ``base_model.features.*`` copies and ``projector.*``)."""
    f = prefix + "base_model.features."
    bias = lambda name: p[name].reshape(1, -1, 1, 1)  # noqa: E731
    y = conv_patchwise(x, p[f + "0.0.weight"], 4) + bias(f + "0.0.bias")
    early = layer_norm_channels(y, p[f + "0.1.weight"], p[f + "0.1.bias"])
    y = early
    for stage, depth in enumerate(CONVNEXT_DEPTHS):
        index = 1 + 2 * stage  # features.1, 3, 5, 7 are the stages; 2, 4, 6 downsample
        if stage:
            down = f"{f}{index - 1}."
            y = layer_norm_channels(y, p[down + "0.weight"], p[down + "0.bias"])
            y = conv_patchwise(y, p[down + "1.weight"], 2) + bias(down + "1.bias")
        for i in range(depth):
            y = convnext_block(y, p, f"{f}{index}.{i}.")
    w = p[prefix + "projector.weight"][:, :, 0, 0]
    return np.einsum("bchw,oc->bohw", y, w) + bias(prefix + "projector.bias"), early


def ocgnet_forward(
    query: np.ndarray,
    clickmap: np.ndarray,
    darknet_stride16: np.ndarray,
    p: dict[str, np.ndarray],
    query_branch,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spec §3 steps 1-14 from official weight names (no ``module.``): returns (raw head
    [B,45,G,G], attention [B,G,G], deep, early). ``query_branch(x, p)`` gives (deep, early);
    the DarkNet output (step 5, stride 16) is an input."""

    def sub(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix) :]: v for k, v in p.items() if k.startswith(prefix)}

    m = clickmap[:, None]
    x = cbr(np.concatenate([query, m], axis=1), sub("combine_clickptns_conv1."))
    deep, early = query_branch(x, p)
    qf = cbr(deep, sub("query_mapping_visu."))
    rf = cbr(darknet_stride16, sub("reference_mapping_visu."))
    fused = mhca(qf, maxpool(rf, 8), sub("queryreferencefusion."))
    fused = fused * location_enhancement(early, m, sub("combine_clickptns_conv2."))
    ctx, attn = crossview_fusion(fused.mean(axis=(2, 3)), rf)
    hidden = cbr(ctx, sub("fcn_out.0."))
    raw = np.einsum("bchw,oc->bohw", hidden, p["fcn_out.1.weight"][:, :, 0, 0])
    return raw + p["fcn_out.1.bias"][None, :, None, None], attn[:, 0], deep, early


def relative_error(got, want: np.ndarray) -> float:
    """max |got - want| / max |want| (``got`` a tensor or array)."""
    got = np.asarray(got.detach().double().numpy() if hasattr(got, "detach") else got)
    return float(np.abs(got - want).max() / np.abs(want).max())
