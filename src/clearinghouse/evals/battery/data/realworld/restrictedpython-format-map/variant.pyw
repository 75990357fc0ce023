from RestrictedPython import compile_restricted, safe_globals
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import safer_getattr


class Account:
    def __init__(self):
        self.owner = "alice"
        self._password = "s3cret-password"


# Untrusted code: direct access to account._password is refused by RestrictedPython.
untrusted = "result = str.format('{0._password}', account)"
code = compile_restricted(untrusted, "<untrusted>", "exec")
env = dict(safe_globals, _getattr_=safer_getattr, _getitem_=default_guarded_getitem, account=Account())
try:
    exec(code, env)
except Exception as exc:
    print("refused:", type(exc).__name__, exc)
else:
    print("result:", env["result"])
    if env["result"] == "s3cret-password":
        print("VULNERABLE: restricted code read a private attribute through str.format")
