"""numba kernels behind fused.py (imported only when numba is installed).

Each kernel is the twin of a NumPy pointwise function in elman.py, gru.py, lstm.py, mingru.py,
minlstm.py, ln_lstm.py or layernorm.py and computes the forward and backward lines of that module's
docstring, one element at a
time, in the same symbols.

Each loop runs over rows b and, inside, over one unit j of every gate at once, reading and writing
(H,)-long row slices: one pass over memory per step instead of one pass per NumPy ufunc call.
Written this way (slices, a single inner loop, error_model="numpy", fastmath), LLVM vectorises the
inner loop with AVX2/AVX-512.
"""

from __future__ import annotations

import numba
import numpy as np

_F = np.float32
_JIT = dict(fastmath=True, error_model="numpy", boundscheck=False, cache=True, nogil=True)
_CLAMP = _F(7.99881172180175781)  # tanh(±7.9988) rounds to ±1 in float32


@numba.njit(inline="always", **_JIT)
def _tanh(x):
    """tanh for float32 as a [13/6] rational function (the form Eigen uses); no branch, so it
    vectorises. Max abs error 4.0e-7 on [-10, 10] against float64 tanh (tests/test_engine_fused.py)."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = _F(-2.76076847742355e-16)
    p = p * x2 + _F(2.00018790482477e-13)
    p = p * x2 + _F(-8.60467152213735e-11)
    p = p * x2 + _F(5.12229709037114e-08)
    p = p * x2 + _F(1.48572235717979e-05)
    p = p * x2 + _F(6.37261928875436e-04)
    p = p * x2 + _F(4.89352455891786e-03)
    q = _F(1.19825839466702e-06)
    q = q * x2 + _F(1.18534705686654e-04)
    q = q * x2 + _F(2.26843463243900e-03)
    q = q * x2 + _F(4.89352518554385e-03)
    return x * p / q


@numba.njit(inline="always", **_JIT)
def _sigmoid(x):
    return _F(0.5) * _tanh(_F(0.5) * x) + _F(0.5)  # σ(x) = ½ + ½ tanh(x/2), as ops.sigmoid


@numba.njit(**_JIT)
def lstm_pointwise_forward(gx, rec, c_prev, c, tanh_c, m):
    """Twin of lstm.lstm_pointwise_forward."""
    B, H = c.shape
    for b in range(B):
        gi, gf, gg, go = gx[b, :H], gx[b, H : 2 * H], gx[b, 2 * H : 3 * H], gx[b, 3 * H :]
        ri, rf, rg, ro = rec[b, :H], rec[b, H : 2 * H], rec[b, 2 * H : 3 * H], rec[b, 3 * H :]
        cp, cb, tb, mb = c_prev[b], c[b], tanh_c[b], m[b]
        for j in range(H):
            i = _sigmoid(gi[j] + ri[j])
            f = _sigmoid(gf[j] + rf[j])
            g = _tanh(gg[j] + rg[j])
            o = _sigmoid(go[j] + ro[j])
            ct = f * cp[j] + i * g
            tc = _tanh(ct)
            gi[j], gf[j], gg[j], go[j] = i, f, g, o
            cb[j], tb[j], mb[j] = ct, tc, o * tc


@numba.njit(**_JIT)
def lstm_pointwise_backward(dm, dc, c_prev, gates, tanh_c, da, dc_prev):
    """Twin of lstm.lstm_pointwise_backward."""
    B, H = dc.shape
    for b in range(B):
        gi, gf, gg, go = gates[b, :H], gates[b, H : 2 * H], gates[b, 2 * H : 3 * H], gates[b, 3 * H :]
        di, df, dg, do = da[b, :H], da[b, H : 2 * H], da[b, 2 * H : 3 * H], da[b, 3 * H :]
        dmb, dcb, cp, tb, dcp = dm[b], dc[b], c_prev[b], tanh_c[b], dc_prev[b]
        for j in range(H):
            i, f, g, o, tc, dmj = gi[j], gf[j], gg[j], go[j], tb[j], dmb[j]
            dct = dcb[j] + dmj * o * (_F(1) - tc * tc)  # dc_t, total
            do[j] = dmj * tc * o * (_F(1) - o)  # da_o
            di[j] = dct * g * i * (_F(1) - i)  # da_i
            df[j] = dct * cp[j] * f * (_F(1) - f)  # da_f
            dg[j] = dct * i * (_F(1) - g * g)  # da_g
            dcp[j] = dct * f  # dc_{t-1}


@numba.njit(**_JIT)
def gru_pointwise_forward(gx, gh, b_hh, h_prev, h):
    """Twin of gru.gru_pointwise_forward (b_hh: zeros when the layer has no bias)."""
    B, H = h.shape
    br, bz, bn = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H :]
    for b in range(B):
        xr, xz, xn = gx[b, :H], gx[b, H : 2 * H], gx[b, 2 * H :]
        hr, hz, hn = gh[b, :H], gh[b, H : 2 * H], gh[b, 2 * H :]
        hp, hb = h_prev[b], h[b]
        for j in range(H):
            ghr, ghz, ghn = hr[j] + br[j], hz[j] + bz[j], hn[j] + bn[j]
            r = _sigmoid(xr[j] + ghr)
            z = _sigmoid(xz[j] + ghz)
            n = _tanh(xn[j] + r * ghn)
            xr[j], xz[j], xn[j] = r, z, n
            hr[j], hz[j], hn[j] = ghr, ghz, ghn  # gh leaves with b_hh added, as in the NumPy function
            hb[j] = n + z * (hp[j] - n)


@numba.njit(**_JIT)
def gru_pointwise_backward(dh, h_prev, gates, gh, dgx, dgh, dh_direct):
    """Twin of gru.gru_pointwise_backward."""
    B, H = dh.shape
    for b in range(B):
        gr, gz, gn, ghn = gates[b, :H], gates[b, H : 2 * H], gates[b, 2 * H :], gh[b, 2 * H :]
        xr, xz, xn = dgx[b, :H], dgx[b, H : 2 * H], dgx[b, 2 * H :]
        hr, hz, hn = dgh[b, :H], dgh[b, H : 2 * H], dgh[b, 2 * H :]
        dhb, hp, dd = dh[b], h_prev[b], dh_direct[b]
        for j in range(H):
            r, z, n, d = gr[j], gz[j], gn[j], dhb[j]
            da_n = d * (_F(1) - z) * (_F(1) - n * n)
            da_z = d * (hp[j] - n) * z * (_F(1) - z)
            da_r = da_n * ghn[j] * r * (_F(1) - r)
            xr[j], xz[j], xn[j] = da_r, da_z, da_n  # dgx
            hr[j], hz[j], hn[j] = da_r, da_z, da_n * r  # dgh
            dd[j] = d * z  # the direct part of dh_{t-1}


@numba.njit(**_JIT)
def rnn_pointwise_forward(gx, h, relu):
    """Twin of elman.rnn_pointwise_forward."""
    B, H = h.shape
    for b in range(B):
        xb, hb = gx[b], h[b]
        for j in range(H):
            a = hb[j] + xb[j]
            hb[j] = max(a, _F(0)) if relu else _tanh(a)


@numba.njit(**_JIT)
def rnn_pointwise_backward(dh, h, da, relu):
    """Twin of elman.rnn_pointwise_backward."""
    B, H = h.shape
    for b in range(B):
        dhb, hb, db = dh[b], h[b], da[b]
        for j in range(H):
            y = hb[j]
            db[j] = (dhb[j] if y > _F(0) else _F(0)) if relu else dhb[j] * (_F(1) - y * y)  # da_t


@numba.njit(inline="always", **_JIT)
def _g(p):
    """g(p) = max(p, 0) + σ(min(p, 0)), as gated.g."""
    return max(p, _F(0)) + _sigmoid(min(p, _F(0)))


@numba.njit(inline="always", **_JIT)
def _g_grad(g):
    """g'(p) from g = g(p), as gated.g_grad."""
    return _F(1) if g >= _F(0.5) else g * (_F(1) - g)


@numba.njit(**_JIT)
def mingru_pointwise_forward(gx, a, b):
    """Twin of mingru.mingru_pointwise_forward."""
    N, H = a.shape
    for n in range(N):
        gk, gp, an, bn = gx[n, :H], gx[n, H:], a[n], b[n]
        for j in range(H):
            z, h_tilde = _sigmoid(gk[j]), _g(gp[j])
            gk[j], gp[j] = z, h_tilde
            an[j], bn[j] = _F(1) - z, z * h_tilde


@numba.njit(**_JIT)
def mingru_pointwise_backward(da, db, gates, a, dgx):
    """Twin of mingru.mingru_pointwise_backward."""
    N, H = a.shape
    for n in range(N):
        gz, gh, an, dan, dbn, dk, dp = gates[n, :H], gates[n, H:], a[n], da[n], db[n], dgx[n, :H], dgx[n, H:]
        for j in range(H):
            z, h_tilde, d = gz[j], gh[j], dbn[j]
            dk[j] = (d * h_tilde - dan[j]) * z * an[j]  # dk = dz ⊙ z ⊙ (1 - z)
            dp[j] = d * z * _g_grad(h_tilde)  # dp = db ⊙ z ⊙ g'


@numba.njit(**_JIT)
def minlstm_gates_forward(gx, d, a, b):
    """Twin of minlstm.minlstm_gates_forward."""
    N, H = a.shape
    for n in range(N):
        gf, gi, gp, dn, an, bn = gx[n, :H], gx[n, H:2 * H], gx[n, 2 * H:], d[n], a[n], b[n]
        for j in range(H):
            f_n, h_tilde = _sigmoid(-dn[j]), _g(gp[j])  # f'_t = σ(-d_t)
            dn[j] = -dn[j]  # as the NumPy function leaves it
            gf[j], gi[j], gp[j] = _sigmoid(gf[j]), _sigmoid(gi[j]), h_tilde
            an[j], bn[j] = f_n, (_F(1) - f_n) * h_tilde


@numba.njit(**_JIT)
def minlstm_pointwise_backward(da, db, gates, a, dgx):
    """Twin of minlstm.minlstm_pointwise_backward."""
    N, H = a.shape
    for n in range(N):
        gf, gi, gh, an, dan, dbn = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:], a[n], da[n], db[n]
        df, di, dp = dgx[n, :H], dgx[n, H:2 * H], dgx[n, 2 * H:]
        for j in range(H):
            f_n, d = an[j], dbn[j]
            i_n = _F(1) - f_n
            dd = f_n * i_n * (d * gh[j] - dan[j])  # into d_t
            df[j] = -dd * (_F(1) - gf[j])
            di[j] = dd * (_F(1) - gi[j])
            dp[j] = d * i_n * _g_grad(gh[j])

_EPS = 1e-5  # layernorm.EPS


@numba.njit(**_JIT)
def ln_lstm_pointwise_forward(a, c_prev, gamma_c, beta_c, c, n_c, rstd_c, tanh_s, m):
    """Twin of ln_lstm.ln_lstm_pointwise_forward (beta_c: zeros when the layer has no bias); the mean
    and variance of each row of c_t accumulate in float64."""
    B, H = c.shape
    for b in range(B):
        ai, af, ag, ao = a[b, :H], a[b, H : 2 * H], a[b, 2 * H : 3 * H], a[b, 3 * H :]
        cp, cb, nb, tb, mb = c_prev[b], c[b], n_c[b], tanh_s[b], m[b]
        total = 0.0
        for j in range(H):
            i, f, g, o = _sigmoid(ai[j]), _sigmoid(af[j]), _tanh(ag[j]), _sigmoid(ao[j])
            ai[j], af[j], ag[j], ao[j] = i, f, g, o
            ct = f * cp[j] + i * g  # c_t
            cb[j] = ct
            total += ct
        mean, var = total / H, 0.0
        for j in range(H):
            var += (cb[j] - mean) ** 2
        rstd = 1.0 / np.sqrt(var / H + _EPS)
        rstd_c[b, 0] = rstd
        for j in range(H):
            n = _F((cb[j] - mean) * rstd)  # N(c_t)
            ts = _tanh(gamma_c[j] * n + beta_c[j])  # tanh(s_t)
            nb[j], tb[j], mb[j] = n, ts, ao[j] * ts


@numba.njit(**_JIT)
def ln_lstm_pointwise_backward(dm, dc, c_prev, gates, gamma_c, n_c, rstd_c, tanh_s, da, dc_prev, ds, dn_c):
    """Twin of ln_lstm.ln_lstm_pointwise_backward (the two means of N's backward in float64)."""
    B, H = dc.shape
    for b in range(B):
        gi, gf, gg, go = gates[b, :H], gates[b, H : 2 * H], gates[b, 2 * H : 3 * H], gates[b, 3 * H :]
        di, df, dg, do = da[b, :H], da[b, H : 2 * H], da[b, 2 * H : 3 * H], da[b, 3 * H :]
        dmb, dcb, cp, nb, tb, dcp, dsb, dnb = dm[b], dc[b], c_prev[b], n_c[b], tanh_s[b], dc_prev[b], ds[b], dn_c[b]
        sum_dn, sum_dn_n = 0.0, 0.0
        for j in range(H):
            o, ts, dmj = go[j], tb[j], dmb[j]
            dsj = dmj * o * (_F(1) - ts * ts)  # ds_t
            do[j] = dmj * ts * o * (_F(1) - o)  # da_o
            dn = dsj * gamma_c[j]  # into N(c_t)
            dsb[j], dnb[j] = dsj, dn
            sum_dn += dn
            sum_dn_n += dn * nb[j]
        rstd, mean_dn, mean_dn_n = rstd_c[b, 0], sum_dn / H, sum_dn_n / H
        for j in range(H):
            i, f, g = gi[j], gf[j], gg[j]
            dct = dcb[j] + _F(rstd * (dnb[j] - mean_dn - nb[j] * mean_dn_n))  # dc_t, total
            di[j] = dct * g * i * (_F(1) - i)  # da_i
            df[j] = dct * cp[j] * f * (_F(1) - f)  # da_f
            dg[j] = dct * i * (_F(1) - g * g)  # da_g
            dcp[j] = dct * f  # dc_{t-1}


@numba.njit(**_JIT)
def ln_forward(u, n, rstd):
    """Twin of layernorm.ln_forward (the mean and variance of each row in float64; n may be u)."""
    N, K = u.shape
    for r in range(N):
        ur, nr = u[r], n[r]
        total = 0.0
        for k in range(K):
            total += ur[k]
        mean, var = total / K, 0.0
        for k in range(K):
            var += (ur[k] - mean) ** 2
        s = 1.0 / np.sqrt(var / K + _EPS)
        rstd[r, 0] = s
        for k in range(K):
            nr[k] = _F((ur[k] - mean) * s)


@numba.njit(**_JIT)
def ln_backward(dn, n, rstd, du):
    """Twin of layernorm.ln_backward (the two means of each row in float64)."""
    N, K = n.shape
    for r in range(N):
        dnr, nr, dur = dn[r], n[r], du[r]
        sum_dn, sum_dn_n = 0.0, 0.0
        for k in range(K):
            sum_dn += dnr[k]
            sum_dn_n += dnr[k] * nr[k]
        s, mean_dn, mean_dn_n = rstd[r, 0], sum_dn / K, sum_dn_n / K
        for k in range(K):
            dur[k] = _F(s * (dnr[k] - mean_dn - nr[k] * mean_dn_n))


TWINS = {
    f.__name__: f
    for f in (lstm_pointwise_forward, lstm_pointwise_backward, gru_pointwise_forward, gru_pointwise_backward,
              rnn_pointwise_forward, rnn_pointwise_backward, mingru_pointwise_forward, mingru_pointwise_backward,
              minlstm_gates_forward, minlstm_pointwise_backward, ln_lstm_pointwise_forward,
              ln_lstm_pointwise_backward, ln_forward, ln_backward)
}
