"""Logistic mixed models with crossed random intercepts, fitted the way R's ``lme4::glmer`` fits them.

The generated ``analysis.py`` (``xai-study analysis-script``) carries this module's text verbatim, so it
imports nothing but numpy and scipy. Model, for trials ``i`` and grouping factors ``k`` (participant, image)::

    y_i ~ Bernoulli(logit^-1(x_i' beta + sum_k theta_k u_k[g_k(i)])),   u_k ~ N(0, I)

``theta_k`` is the standard deviation of factor ``k``'s intercepts (the dispersion is 1). The estimand is
lme4's: the *conditional* (subject-specific) log odds ratios, by maximum likelihood with the Laplace
approximation (``nAGQ = 1``). The fit follows lme4's two stages: (1) ``theta`` optimised with ``beta`` and
``u`` found together by penalised iteratively reweighted least squares (PIRLS; lme4's ``nAGQ = 0``);
(2) ``(theta, beta)`` optimised together, ``u`` by PIRLS given both, on the Laplace deviance

    sum of Bernoulli deviance residuals + |u|^2 + log det(Lambda' Z' W Z Lambda + I),

then polished by Newton steps on finite-difference derivatives. Standard errors: ``2 H^-1`` (the ``beta``
block) with ``H`` the central-difference Hessian of that deviance over ``(theta, beta)`` (step 1e-4), lme4's
default (``vcov(use.hessian = TRUE)``); where a ``theta`` is 0 it is held there. Checks, as lme4's: the
largest scaled gradient ``min(|chol(H)^-T g|, |g|)`` below 0.002, ``H`` positive definite, and a singular
fit (a ``theta`` below 1e-4, lme4's ``isSingular``).
"""

import numpy as np
from scipy import optimize
from scipy.linalg import cho_factor, cho_solve, cholesky, solve_triangular
from scipy.special import expit

GRADIENT_TOL = 0.002  # lme4's check.conv.grad
SINGULAR_TOL = 1e-4  # lme4's isSingular
STEP = 1e-4  # lme4's deriv12


def _softplus(x):
    return np.logaddexp(0.0, x)


class LaplaceGLMM:
    """``y`` (0/1), fixed-effect matrix ``X`` (n x p) and one integer code array per grouping factor."""

    def __init__(self, y, X, groups):
        self.y = np.asarray(y, dtype=float)
        self.X = np.asarray(X, dtype=float)
        self.codes = [np.asarray(c, dtype=int) for c in groups]
        self.sizes = [int(c.max()) + 1 for c in self.codes]
        self.q = sum(self.sizes)
        self.starts = np.cumsum([0] + self.sizes[:-1])

    # --- Z Lambda and its transpose, without forming Z ---
    def _zl(self, theta, u):
        return sum(t * u[s:s + n][c] for t, s, n, c in zip(theta, self.starts, self.sizes, self.codes))

    def _lzt(self, theta, v):
        return np.concatenate([t * np.bincount(c, v, n) for t, n, c in zip(theta, self.sizes, self.codes)])

    def _system(self, theta, w):
        """``Lambda' Z' W Z Lambda + I`` for one or two factors of intercepts: both diagonal blocks are
        diagonal, so it is solved through the Schur complement of the first (an n2 x n2 Cholesky)."""
        diags = [1.0 + t * t * np.bincount(c, w, n) for t, n, c in zip(theta, self.sizes, self.codes)]
        if len(diags) == 1:
            return diags[0], None, None
        n2 = self.sizes[1]
        C = theta[0] * theta[1] * np.bincount(self.codes[0] * n2 + self.codes[1], w,
                                              self.sizes[0] * n2).reshape(self.sizes[0], n2)
        S = np.diag(diags[1]) - C.T @ (C / diags[0][:, None])
        return diags[0], C, cho_factor(S, lower=True)

    def _solve(self, system, b):
        d1, C, S = system
        if C is None:
            return b / (d1 if b.ndim == 1 else d1[:, None])
        n1 = len(d1)
        b1, b2 = b[:n1], b[n1:]
        scale = d1 if b.ndim == 1 else d1[:, None]
        x2 = cho_solve(S, b2 - C.T @ (b1 / scale))
        return np.concatenate([(b1 - C @ x2) / scale, x2])

    def _logdet(self, system):
        d1, C, S = system
        return float(np.sum(np.log(d1))) + (0.0 if C is None else 2.0 * float(np.sum(np.log(np.diag(S[0])))))

    def _xwzl(self, theta, w):
        return np.hstack([t * np.stack([np.bincount(c, w * x, n) for x in self.X.T]) for t, n, c
                          in zip(theta, self.sizes, self.codes)])

    def _bernoulli_deviance(self, eta):
        return 2.0 * float(np.sum(self.y * _softplus(-eta) + (1 - self.y) * _softplus(eta)))

    def _pirls(self, theta, beta, u, with_beta):
        """The mode of ``u`` (and of ``beta`` too when ``with_beta``); returns (beta, u, Laplace deviance)."""
        p = self.X.shape[1]
        for _ in range(200):
            eta = self.X @ beta + self._zl(theta, u)
            mu = expit(eta)
            w = mu * (1 - mu)
            r = self.y - mu
            system = self._system(theta, w)
            g_u = self._lzt(theta, r) - u
            if with_beta:  # Schur complement of the u block: a p x p system for beta
                B = self._xwzl(theta, w)
                AinvBt = self._solve(system, B.T)
                Ainv_g = self._solve(system, g_u)
                S_beta = self.X.T @ (w[:, None] * self.X) - B @ AinvBt
                d_beta = np.linalg.solve(S_beta, self.X.T @ r - B @ Ainv_g)
                d_u = Ainv_g - AinvBt @ d_beta
            else:
                d_beta, d_u = np.zeros(p), self._solve(system, g_u)
            old = self._bernoulli_deviance(eta) + u @ u
            t = 1.0
            while t > 1e-10:  # step halving keeps the penalised deviance from rising
                nb, nu = beta + t * d_beta, u + t * d_u
                new = self._bernoulli_deviance(self.X @ nb + self._zl(theta, nu)) + nu @ nu
                if new <= old + 1e-10:
                    break
                t /= 2
            beta, u = nb, nu
            if max(np.max(np.abs(t * d_u), initial=0), np.max(np.abs(t * d_beta), initial=0)) < 1e-10:
                break
        eta = self.X @ beta + self._zl(theta, u)
        mu = expit(eta)
        logdet = self._logdet(self._system(theta, mu * (1 - mu)))
        return beta, u, self._bernoulli_deviance(eta) + float(u @ u) + logdet

    def deviance(self, theta, beta):
        return self._pirls(np.asarray(theta, float), np.asarray(beta, float), self.u0, False)[2]

    def _derivatives(self, f, x):
        """Central-difference gradient and Hessian of ``f`` at ``x`` (step :data:`STEP`)."""
        n, h = len(x), STEP
        f0 = f(x)
        g, H = np.zeros(n), np.zeros((n, n))
        e = np.eye(n) * h
        fp = np.array([f(x + e[i]) for i in range(n)])
        fm = np.array([f(x - e[i]) for i in range(n)])
        g = (fp - fm) / (2 * h)
        for i in range(n):
            H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h ** 2
            for j in range(i):
                H[i, j] = H[j, i] = (f(x + e[i] + e[j]) - f(x + e[i] - e[j]) - f(x - e[i] + e[j])
                                     + f(x - e[i] - e[j])) / (4 * h * h)
        return f0, g, H

    def fit(self):
        """Fit; returns a dict: beta, se, theta, deviance, converged, singular, hessian_ok, max_grad, message."""
        p, K = self.X.shape[1], len(self.codes)
        self.u0 = np.zeros(self.q)
        beta0 = np.zeros(p)

        def stage1(theta):
            return self._pirls(np.abs(theta), beta0, np.zeros(self.q), True)[2]

        s1 = optimize.minimize(stage1, np.ones(K), method="L-BFGS-B", bounds=[(0, None)] * K)
        theta = np.asarray(s1.x, float)
        beta, self.u0, _ = self._pirls(theta, beta0, np.zeros(self.q), True)

        def stage2(x):
            return self.deviance(x[:K], x[K:])

        s2 = optimize.minimize(stage2, np.concatenate([theta, beta]), method="L-BFGS-B",
                               bounds=[(0, None)] * K + [(None, None)] * p, options={"ftol": 1e-13, "gtol": 1e-7})
        x = np.asarray(s2.x, float)
        for attempt in range(6):  # Newton steps on the free parameters (a theta at 0 stays there) until lme4's check
            free = np.array([i >= K or x[i] >= SINGULAR_TOL for i in range(K + p)])
            dev, g, H = self._derivatives(lambda z, x=x, free=free: stage2(np.where(free, 0, x) + _scatter(free, z)),
                                          x[free])
            hessian_ok, se, max_grad = False, np.full(p, np.nan), float(np.max(np.abs(g)))
            try:
                R = cholesky(H, lower=False)
            except np.linalg.LinAlgError:
                break
            hessian_ok = True
            max_grad = float(np.max(np.minimum(np.abs(solve_triangular(R, g, trans="T")), np.abs(g))))
            se = np.sqrt(np.diag(2 * np.linalg.inv(H))[-p:])
            if max_grad < GRADIENT_TOL / 10 or attempt == 5:
                break
            trial = x.copy()
            trial[free] -= np.linalg.solve(H, g)
            trial[:K] = np.maximum(trial[:K], 0)
            if stage2(trial) > dev:
                break
            x = trial
        theta, beta = x[:K], x[K:]
        singular = bool(np.any(theta < SINGULAR_TOL))
        converged = bool(hessian_ok and max_grad < GRADIENT_TOL and np.all(np.isfinite(se)))
        return {"beta": beta, "se": se, "theta": theta, "deviance": float(dev), "converged": converged,
                "singular": singular, "hessian_ok": hessian_ok, "max_grad": max_grad,
                "message": f"{s2.message}"}


def _scatter(mask, values):
    out = np.zeros(len(mask))
    out[mask] = values
    return out
