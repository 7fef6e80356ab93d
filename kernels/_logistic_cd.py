"""Coordinate descent on the quadratic model of the L1/elastic-net logistic objective.

Proximal Newton (glmnet, newGLMNET/liblinear) replaces the smooth part f by its
second-order model at theta and solves

    min_d  g'd + 1/2 d'H d + sum_j l1_j |theta_j + d_j|

one coordinate at a time: with b_j = g_j + (H d)_j - H_jj d_j the exact minimiser over
d_j is  d_j = S(theta_j - b_j / H_jj, l1_j / H_jj) - theta_j,  S the soft threshold.
H d is kept up to date (one column axpy per changed coordinate). Compiled by Numba.
"""

from numba import njit


@njit(cache=True, nogil=True)
def cd_quadratic(H, g, theta, l1, d, max_sweeps, rtol):
    """Minimise the model above over d (in place, starting from d); returns sweeps run.

    Stops when a sweep changes no coordinate by more than rtol * max|d|.
    """
    n = theta.shape[0]
    Hd = H @ d
    for sweep in range(max_sweeps):
        biggest = 0.0
        size = 0.0
        for j in range(n):
            a = max(H[j, j], 1e-12)
            b = g[j] + Hd[j] - a * d[j]
            u = theta[j] - b / a
            s = l1[j] / a
            u = u - s if u > s else (u + s if u < -s else 0.0)
            new = u - theta[j]
            delta = new - d[j]
            if delta != 0.0:
                for i in range(n):
                    Hd[i] += delta * H[i, j]
                d[j] = new
            biggest = max(biggest, abs(delta))
            size = max(size, abs(new))
        if biggest <= rtol * size:
            return sweep + 1
    return max_sweeps
