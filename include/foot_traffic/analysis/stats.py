"""The statistical tests of ``validate`` (scipy and numpy are imported when a test runs)."""

from __future__ import annotations


def _merge_bins(observed: list[float], expected: list[float], minimum: float = 5.0) -> tuple[list[float], list[float]]:
    """Merge neighbouring bins until every expected count is at least ``minimum``."""
    obs_out: list[float] = []
    exp_out: list[float] = []
    o_acc = e_acc = 0.0
    for o, e in zip(observed, expected):
        o_acc += o
        e_acc += e
        if e_acc >= minimum:
            obs_out.append(o_acc)
            exp_out.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 or o_acc > 0:
        if exp_out:
            obs_out[-1] += o_acc
            exp_out[-1] += e_acc
        else:
            obs_out.append(o_acc)
            exp_out.append(e_acc)
    return obs_out, exp_out


def chi_square(observed: list[float], expected: list[float]) -> tuple[float, float, int]:
    """(statistic, p-value, degrees of freedom) after merging sparse bins."""
    from scipy import stats

    obs, exp = _merge_bins(observed, expected)
    if len(obs) < 2:
        return 0.0, 1.0, 0
    total_o, total_e = sum(obs), sum(exp)
    exp = [e * total_o / total_e for e in exp]  # conditional on the count
    stat, p = stats.chisquare(obs, exp)
    return float(stat), float(p), len(obs) - 1


def ks_uniform(values: list[float]) -> tuple[float, float]:
    from scipy import stats

    if not values:
        return 0.0, 1.0
    result = stats.kstest(values, "uniform")
    return float(result.statistic), float(result.pvalue)


def binomial(k: int, n: int, p: float) -> tuple[float, tuple[float, float]]:
    """(two-sided exact p-value, 99 % Clopper-Pearson interval of the observed rate)."""
    from scipy import stats

    if n == 0:
        return 1.0, (0.0, 1.0)
    result = stats.binomtest(k, n, p) if 0 < p < 1 else None
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.99, method="exact")
    if result is None:
        pvalue = 1.0 if (k == 0 and p == 0) or (k == n and p == 1) else 0.0
    else:
        pvalue = float(result.pvalue)
    return pvalue, (float(ci.low), float(ci.high))


def expected_minutes(dwell, mus: list[float]) -> dict[int, float]:
    """Expected number of trips of each whole minute for visits with locations ``mus``
    (the sum of their pmfs: the model curve of the dwell histogram)."""
    import numpy as np
    from scipy.special import ndtr

    if not mus:
        return {}
    minutes = np.arange(dwell.min_minutes, dwell.max_minutes + 1)
    mu = np.asarray(mus)[:, None]
    s = dwell.sigma
    lo = ndtr((np.log(dwell.min_minutes) - mu) / s)
    hi = ndtr((np.log(dwell.max_minutes) - mu) / s)
    cdf = np.clip((ndtr((np.log(minutes + 0.5)[None, :] - mu) / s) - lo) / (hi - lo), 0.0, 1.0)
    cdf[:, -1] = 1.0
    pmf = np.diff(cdf, axis=1, prepend=0.0)
    return {int(m): float(v) for m, v in zip(minutes, pmf.sum(axis=0))}
