"""Functional checks of Python-RSA: genuine signatures verify, tampered ones do not."""

import rsa

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


public, private = rsa.newkeys(512)
for method in ("SHA-1", "SHA-256", "MD5"):
    signature = rsa.sign(b"genuine message", private, method)
    check(rsa.verify(b"genuine message", signature, public), f"a {method} signature verifies")
try:
    rsa.verify(b"another message", rsa.sign(b"genuine message", private, "SHA-256"), public)
except rsa.VerificationError:
    check(True, "another message fails")
else:
    check(False, "another message fails")
check(rsa.decrypt(rsa.encrypt(b"secret", public), private) == b"secret", "encryption round trip")
bad = bytearray(rsa.sign(b"m", private, "SHA-256"))
bad[-1] ^= 1
try:
    rsa.verify(b"m", bytes(bad), public)
except rsa.VerificationError:
    check(True, "a changed signature fails")
else:
    check(False, "a changed signature fails")
print(f"FUNCTIONAL OK ({checks} checks)")
