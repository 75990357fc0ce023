"""Functional checks of PyJWT's HMAC tokens."""

import jwt

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


token = jwt.encode({"sub": "alice"}, "a-shared-secret", algorithm="HS256")
check(jwt.decode(token, "a-shared-secret") == {"sub": "alice"}, "HS256 round trip")
try:
    jwt.decode(token, "another-secret")
except jwt.DecodeError:
    check(True, "a wrong secret fails")
else:
    check(False, "a wrong secret fails")
try:
    jwt.decode(jwt.encode({"exp": 1}, "s", algorithm="HS256"), "s")
except jwt.ExpiredSignatureError:
    check(True, "an expired token fails")
else:
    check(False, "an expired token fails")
t512 = jwt.encode({"n": 1}, "k", algorithm="HS512")
check(jwt.decode(t512, "k")["n"] == 1, "HS512")
check(jwt.decode(token, verify=False)["sub"] == "alice", "reading without verifying")
try:
    jwt.decode(token, "a-shared-secret", algorithms=["HS512"])
except jwt.exceptions.InvalidAlgorithmError:
    check(True, "an algorithm outside the allowed list fails")
else:
    check(False, "an algorithm outside the allowed list fails")
print(f"FUNCTIONAL OK ({checks} checks)")
