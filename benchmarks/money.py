"""How fast is `minutebill.Money`? Addition and `rounded()` against `prices` and `py-moneyed`.

All three libraries do the same work in the same run, on the same amounts:

* addition: ``a + b`` over 1,000 pairs of rounded INR amounts (whole paise);
* rounding: each of 1,000 INR amounts with four decimal places, rounded half-up to paise.
  minutebill calls `rounded()`, prices calls `quantize()` (Babel's precision, half-up) and
  py-moneyed calls `round(2)`, which uses the ambient decimal context, so this script sets the
  ambient rounding to half-up for it (minutebill and prices never read it).

Each figure is the best of several interleaved repeats (`timeit`), which is the least noisy
estimate on a shared machine. Ratios are minutebill's time / the peer's (lower is better). The
last line printed is one JSON object: ``{"add_vs_prices": r, "add_vs_py_moneyed": r}``.

Run it as ``python benchmarks/money.py``.
"""

from __future__ import annotations

import decimal
import json
import platform
import random
import timeit
from collections.abc import Callable
from decimal import Decimal

import moneyed
import prices

from minutebill import Money

PAIRS = 1_000
LOOPS = 100
ROUNDS = 15

AmountPair = tuple[object, object]


def sample_amounts(rng: random.Random, count: int, places: int) -> list[Decimal]:
    """Amounts between 0 and 1,00,000 with `places` decimals (seeded, so runs compare)."""
    return [Decimal(rng.randrange(0, 10**5 * 10**places)).scaleb(-places) for _ in range(count)]


def best_times(jobs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best time of each job over `ROUNDS` rounds, the jobs interleaved within each round."""
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(ROUNDS):
        for name, job in jobs.items():
            best[name] = min(best[name], timeit.timeit(job, number=LOOPS))
    return best


def add_all(pairs: list[AmountPair]) -> Callable[[], object]:
    def run() -> object:
        result = None
        for a, b in pairs:
            result = a + b  # type: ignore[operator]
        return result

    return run


def main() -> None:
    # py-moneyed's round() uses the ambient context; make it round half-up like the others.
    decimal.getcontext().rounding = decimal.ROUND_HALF_UP
    rng = random.Random(2)
    left = sample_amounts(rng, PAIRS, 2)
    right = sample_amounts(rng, PAIRS, 2)
    fine = sample_amounts(rng, PAIRS, 4)

    mb_pairs = [(Money(a, "INR"), Money(b, "INR")) for a, b in zip(left, right, strict=True)]
    pr_pairs = [
        (prices.Money(a, "INR"), prices.Money(b, "INR")) for a, b in zip(left, right, strict=True)
    ]
    pm_pairs = [
        (moneyed.Money(a, "INR"), moneyed.Money(b, "INR")) for a, b in zip(left, right, strict=True)
    ]
    mb_fine = [Money(x, "INR") for x in fine]
    pr_fine = [prices.Money(x, "INR") for x in fine]
    pm_fine = [moneyed.Money(x, "INR") for x in fine]

    # The same work: every library must agree on every result.
    for (a, b), (pa, pb), (ma, mb) in zip(mb_pairs, pr_pairs, pm_pairs, strict=True):
        if not (a + b).amount == (pa + pb).amount == (ma + mb).amount:
            raise SystemExit(f"the libraries disagree on {a} + {b}")
    for x, px, mx in zip(mb_fine, pr_fine, pm_fine, strict=True):
        if not x.rounded().amount == px.quantize().amount == mx.round(2).amount:
            raise SystemExit(f"the libraries disagree on rounding {x}")

    add = best_times(
        {
            "minutebill": add_all(mb_pairs),
            "prices": add_all(pr_pairs),
            "py-moneyed": add_all(pm_pairs),
        }
    )
    rounded = best_times(
        {
            "minutebill": lambda: [x.rounded() for x in mb_fine],
            "prices": lambda: [x.quantize() for x in pr_fine],
            "py-moneyed": lambda: [x.round(2) for x in pm_fine],
        }
    )

    ops = PAIRS * LOOPS
    print(f"Python {platform.python_version()} on {platform.machine()}; best of {ROUNDS} rounds")
    for title, times in (("a + b", add), ("rounded()", rounded)):
        print(f"{title} ({ops:,} operations):")
        for name, seconds in times.items():
            print(f"  {name:<11} {seconds * 1e9 / ops:8.1f} ns per operation")
    figures = {
        "add_vs_prices": round(add["minutebill"] / add["prices"], 3),
        "add_vs_py_moneyed": round(add["minutebill"] / add["py-moneyed"], 3),
    }
    print(
        "rounded() ratios (not in the JSON line): "
        f"vs prices {rounded['minutebill'] / rounded['prices']:.3f}, "
        f"vs py-moneyed {rounded['minutebill'] / rounded['py-moneyed']:.3f}"
    )
    print(
        f"addition ratios: vs prices {figures['add_vs_prices']:.3f} (goal <= 1.0), "
        f"vs py-moneyed {figures['add_vs_py_moneyed']:.3f} (goal <= 0.5)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
