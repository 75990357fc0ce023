import pydash

SECRET_KEY = "module-level-secret"


class Profile:
    def __init__(self):
        self.name = "alice"


profile = Profile()
# The application resolves a client-chosen property path on a server-side object.
path = ["__init__", "__globals__", "SECRET_KEY"]
try:
    value = pydash.get(profile, path)
except Exception as exc:
    print("refused:", type(exc).__name__, exc)
else:
    print(repr(value))
    if value == SECRET_KEY:
        print("VULNERABLE: a property path reached the module globals:", value)
