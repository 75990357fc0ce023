"""Functional checks of RestrictedPython: ordinary restricted code still runs, guards still hold."""

from RestrictedPython import compile_restricted, safe_globals
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import safer_getattr

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


class Account:
    def __init__(self):
        self.owner = "alice"
        self._password = "secret"


def run(source, **names):
    env = dict(safe_globals, _getattr_=safer_getattr, _getitem_=default_guarded_getitem, **names)
    exec(compile_restricted(source, "<restricted>", "exec"), env)
    return env


check(run("result = (1 + 2 + 3) * 2")["result"] == 12, "arithmetic")
check(run("result = account.owner.upper()", account=Account())["result"] == "ALICE", "public attributes")
check(run("result = {'a': 1}['a'] + len('xyz')")["result"] == 4, "items")
check(run("result = 'a-b-c'.split('-')")["result"] == ["a", "b", "c"], "string methods")
check(run("result = '%s=%d' % ('x', 3)")["result"] == "x=3", "%-formatting")
try:
    compile_restricted("result = account._password", "<restricted>", "exec")
except SyntaxError:
    check(True, "private names are refused at compile time")
else:
    check(False, "private names are refused at compile time")
try:
    run("result = getattr(account, '_password')", account=Account())
except Exception:
    check(True, "private names are refused at run time")
else:
    check(False, "private names are refused at run time")
print(f"FUNCTIONAL OK ({checks} checks)")
