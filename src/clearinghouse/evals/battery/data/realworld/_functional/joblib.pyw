"""Functional checks of joblib.Parallel's dispatching."""

from joblib import Parallel, delayed

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


def square(x):
    return x * x


expected = [i * i for i in range(10)]
check(Parallel(n_jobs=2, backend="threading")(delayed(square)(i) for i in range(10)) == expected, "default pre_dispatch")
check(Parallel(n_jobs=2, backend="threading", pre_dispatch="2*n_jobs")(delayed(square)(i) for i in range(10)) == expected, "2*n_jobs")
check(Parallel(n_jobs=2, backend="threading", pre_dispatch="all")(delayed(square)(i) for i in range(10)) == expected, "all")
check(Parallel(n_jobs=2, backend="threading", pre_dispatch=3)(delayed(square)(i) for i in range(10)) == expected, "an int")
check(Parallel(n_jobs=3, backend="threading", pre_dispatch="n_jobs + 1")(delayed(square)(i) for i in range(10)) == expected, "n_jobs + 1")
check(Parallel(n_jobs=1)(delayed(abs)(-i) for i in range(3)) == [0, 1, 2], "sequential")
print(f"FUNCTIONAL OK ({checks} checks)")
