"""Which earlier days were like today: the days a rare count's surge is weighed against.

The windowed evidence's steep sum weighs a rare count (a known error code, a seldom-called API)
against the highest of earlier days' means of the same hours, so that no ordinary day's level is a
surge. On a day far quieter than the others, a Sunday of a business-hours key, that is the level of
a working day, ten or thirty times the day's own: an error code surging on a Sunday morning to its
weekday level, twelve times its Sunday rate, was no surge at all.

Today's last :data:`ALIKE_HOURS` hours say which day it is like. An earlier day whose same hours were
so much busier that today's count would be a drop against them (``-log10`` tail at least
:data:`UNLIKE_SURPRISE`, the model's dispersion) was not a day like today, and is left out, as long
as one day like today is left (the first weekend of a key's history has none: all days count). The
test is one-sided: a day quieter than today stays. Days are the key's own, not the calendar's: an
account's weekend starts at its own midnight, and a key busier on Sundays is left as it is.

Only the steep sum (a rise to ``evidence_steep_ratio``, 8, times the reference) weighs days alike:
the last six hours cannot see a weekly boundary coming, and an account whose Monday starts at its
own midnight, three to seven hours into Monday in UTC, has a Sunday-like past and a weekday's
present. Its calls step up two or three times, far below eight, where the steep sum only loses
evidence; the rising sum (twice the reference) would take the step for a rise (a trend decoy of
seeds 100-102 did), and keeps every day.

>>> today, earlier = np.array([[6.0, 360.0]]), np.array([[[60.0, 360.0], [5.0, 360.0], [70.0, 360.0]]])
>>> alike(today[:, 0], today[:, 1], earlier[:, :, 0], earlier[:, :, 1], np.ones(1)).tolist()
[[False, True, False]]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from insights.detector import lower_surprise

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: Hours before this one compared, today and on each earlier day.
ALIKE_HOURS = 6
#: How surprising (-log10) today's count must be as a drop against a day's for the day to be unlike.
UNLIKE_SURPRISE = 6.0
#: Below 1 (a margin), the fewest standard deviations at which a drop can be that surprising.
NEAR_MARGIN = 0.9


def near_z(phi: F64) -> F64:
    """The fewest standard deviations (``sqrt(phi * mean)``) below the mean at which a negative
    binomial's lower tail can reach :data:`UNLIKE_SURPRISE`, times :data:`NEAR_MARGIN`.

    The tail is thinnest, for its distance, at a count of 0, where it is ``phi ** (-mean / (phi - 1))``
    (``exp(-mean)`` for Poisson): the more dispersed, the fewer deviations it takes, 3.7 for Poisson
    but 2.3 at ``phi`` 10 and 1.9 at 50 (a scan of means and counts finds none fewer).

    >>> near_z(np.array([1.0, 10.0, 50.0])).round(2).tolist()
    [3.35, 2.09, 1.67]
    """
    spread = np.maximum(phi, 1.0) - 1.0
    poisson = spread < 1e-6
    log_phi = np.log10(1.0 + np.where(poisson, 1.0, spread))
    zero_count = np.where(poisson, np.log(10.0), spread / ((1.0 + spread) * log_phi))
    z: F64 = NEAR_MARGIN * np.sqrt(UNLIKE_SURPRISE * zero_count)
    return z


def alike(today_sum: F64, today_n: F64, day_sums: F64, day_n: F64, phi: F64) -> Bool:
    """Per key and earlier day (keys x days), whether the day is like today: its calls over the
    same hours (``day_sums`` in ``day_n`` minutes; today's ``today_sum`` in ``today_n``) were not so
    many that today's would be an unusual drop against them; every day where none is, or where
    either side counted fewer than half of the hours' minutes."""
    window = ALIKE_HOURS * 60 / 2
    rate = day_sums / np.maximum(day_n, 1.0)
    expected = rate * today_n[:, None]
    counted = (day_n >= window) & (today_n[:, None] >= window)
    # Only where today is at least near_z standard deviations below a day can the tail reach
    # UNLIKE_SURPRISE: the exact tail, a scipy call, is for those pairs alone, not for every key
    # and day at each hour's refresh.
    dispersion = np.maximum(phi, 1.0)[:, None]
    below = expected - today_sum[:, None]
    near = counted & (below >= near_z(dispersion) * np.sqrt(dispersion * np.maximum(expected, 1.0)))
    keys, days = np.nonzero(near)
    unlike = np.zeros(day_sums.shape, dtype=bool)
    unlike[keys, days] = (
        lower_surprise(today_sum[keys], expected[keys, days], dispersion[keys, 0]) >= UNLIKE_SURPRISE
    )
    some_alike: Bool = np.any(counted & ~unlike, axis=1)
    result: Bool = ~unlike | ~some_alike[:, None]
    return result
