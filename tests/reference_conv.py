"""Independent float64 numpy references for convolution and pooling (never call gradcore).

Convolution is computed on the zero-padded input with one np.einsum per kernel tap;
pooling with explicit window loops following PyTorch's documented semantics.
"""

from __future__ import annotations

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_out(size, k, stride, pad, dil):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def _taps(xpad, r, s, sh, sw, dh, dw, oh, ow):
    """The (N, C, OH, OW) slice of the padded input that kernel tap (r, s) reads."""
    return xpad[
        :, :, r * dh : r * dh + sh * (oh - 1) + 1 : sh, s * dw : s * dw + sw * (ow - 1) + 1 : sw
    ]


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    k, cg, r_, s_ = w.shape
    oh, ow = conv_out(h, r_, sh, ph, dh), conv_out(wd, s_, sw, pw, dw)
    kg = k // groups
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    y = np.zeros((n, k, oh, ow))
    for g in range(groups):
        xs = xpad[:, g * cg : (g + 1) * cg]
        for r in range(r_):
            for s in range(s_):
                patch = _taps(xs, r, s, sh, sw, dh, dw, oh, ow)
                y[:, g * kg : (g + 1) * kg] += np.einsum(
                    "nchw,kc->nkhw", patch, w[g * kg : (g + 1) * kg, :, r, s]
                )
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def conv2d_backward_input(dy, w, input_hw, stride=1, padding=0, dilation=1, groups=1):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    dy = np.asarray(dy, np.float64)
    w = np.asarray(w, np.float64)
    n, k, oh, ow = dy.shape
    _, cg, r_, s_ = w.shape
    h, wd = input_hw
    kg = k // groups
    dxpad = np.zeros((n, cg * groups, h + 2 * ph, wd + 2 * pw))
    for g in range(groups):
        for r in range(r_):
            for s in range(s_):
                view = _taps(dxpad[:, g * cg : (g + 1) * cg], r, s, sh, sw, dh, dw, oh, ow)
                view += np.einsum(
                    "nkhw,kc->nchw", dy[:, g * kg : (g + 1) * kg], w[g * kg : (g + 1) * kg, :, r, s]
                )
    return dxpad[:, :, ph : ph + h, pw : pw + wd]


def conv2d_backward_weight(dy, x, kernel_hw, stride=1, padding=0, dilation=1, groups=1):
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    dy = np.asarray(dy, np.float64)
    x = np.asarray(x, np.float64)
    n, k, oh, ow = dy.shape
    c = x.shape[1]
    r_, s_ = kernel_hw
    cg, kg = c // groups, k // groups
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dw_ = np.zeros((k, cg, r_, s_))
    for g in range(groups):
        for r in range(r_):
            for s in range(s_):
                patch = _taps(xpad[:, g * cg : (g + 1) * cg], r, s, sh, sw, dh, dw, oh, ow)
                dw_[g * kg : (g + 1) * kg, :, r, s] = np.einsum(
                    "nkhw,nchw->kc", dy[:, g * kg : (g + 1) * kg], patch
                )
    return dw_


def conv2d_backward_bias(dy):
    return np.asarray(dy, np.float64).sum(axis=(0, 2, 3))


def pool_out(size, k, pad, stride, dil, ceil_mode):
    num = size + 2 * pad - dil * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(y, indices) with PyTorch's rules: NaN wins, first maximum otherwise, flat h*W+w."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    oh_, ow_ = pool_out(h, kh, ph, sh, dh, ceil_mode), pool_out(w, kw, pw, sw, dw, ceil_mode)
    y = np.empty((n, c, oh_, ow_))
    idx = np.empty((n, c, oh_, ow_), np.int64)
    for oh in range(oh_):
        for ow in range(ow_):
            best = np.full((n, c), -np.inf)
            arg = None
            for i in range(kh):
                ih = oh * sh - ph + i * dh
                if not 0 <= ih < h:
                    continue
                for j in range(kw):
                    iw = ow * sw - pw + j * dw
                    if not 0 <= iw < w:
                        continue
                    if arg is None:
                        arg = np.full((n, c), ih * w + iw, np.int64)
                    v = x[:, :, ih, iw]
                    take = (v > best) | np.isnan(v)
                    best = np.where(take, v, best)
                    arg = np.where(take, ih * w + iw, arg)
            y[:, :, oh, ow] = best
            idx[:, :, oh, ow] = arg
    return y, idx


def max_pool2d_backward(dy, idx, input_shape):
    n, c, h, w = input_shape
    dx = np.zeros((n * c, h * w))
    dyf = np.asarray(dy, np.float64).reshape(n * c, -1)
    for p in range(n * c):
        np.add.at(dx[p], idx.reshape(n * c, -1)[p], dyf[p])
    return dx.reshape(n, c, h, w)


def _avg_windows(h, w, kh, kw, sh, sw, ph, pw, oh_, ow_, count_include_pad, divisor_override):
    for oh in range(oh_):
        for ow in range(ow_):
            h0, w0 = oh * sh - ph, ow * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = size
            else:
                div = (h1 - h0) * (w1 - w0)
            yield oh, ow, h0, h1, w0, w1, div


def avg_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=0,
):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    ph, pw = _pair(padding)
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    oh_, ow_ = pool_out(h, kh, ph, sh, 1, ceil_mode), pool_out(w, kw, pw, sw, 1, ceil_mode)
    y = np.zeros((n, c, oh_, ow_))
    for oh, ow, h0, h1, w0, w1, div in _avg_windows(
        h, w, kh, kw, sh, sw, ph, pw, oh_, ow_, count_include_pad, divisor_override
    ):
        if h0 < h1 and w0 < w1:
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / div
    return y


def avg_pool2d_backward(
    dy,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=0,
):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    ph, pw = _pair(padding)
    n, c, h, w = input_shape
    dy = np.asarray(dy, np.float64)
    dx = np.zeros((n, c, h, w))
    for oh, ow, h0, h1, w0, w1, div in _avg_windows(
        h, w, kh, kw, sh, sw, ph, pw, dy.shape[2], dy.shape[3], count_include_pad, divisor_override
    ):
        if h0 < h1 and w0 < w1:
            dx[:, :, h0:h1, w0:w1] += (dy[:, :, oh, ow] / div)[:, :, None, None]
    return dx


def _adaptive(i, size, out):
    return (i * size) // out, -(-(i + 1) * size // out)


def adaptive_avg_pool2d(x, output_size):
    oh_, ow_ = _pair(output_size)
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh_, ow_))
    for oh in range(oh_):
        h0, h1 = _adaptive(oh, h, oh_)
        for ow in range(ow_):
            w0, w1 = _adaptive(ow, w, ow_)
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def adaptive_avg_pool2d_backward(dy, input_shape):
    n, c, h, w = input_shape
    dy = np.asarray(dy, np.float64)
    oh_, ow_ = dy.shape[2:]
    dx = np.zeros((n, c, h, w))
    for oh in range(oh_):
        h0, h1 = _adaptive(oh, h, oh_)
        for ow in range(ow_):
            w0, w1 = _adaptive(ow, w, ow_)
            dx[:, :, h0:h1, w0:w1] += (dy[:, :, oh, ow] / ((h1 - h0) * (w1 - w0)))[:, :, None, None]
    return dx
