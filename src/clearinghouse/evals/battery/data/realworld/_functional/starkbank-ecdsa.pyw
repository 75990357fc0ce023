"""Functional checks of starkbank-ecdsa."""

from ellipticcurve.ecdsa import Ecdsa
from ellipticcurve.privateKey import PrivateKey
from ellipticcurve.publicKey import PublicKey
from ellipticcurve.signature import Signature

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


private = PrivateKey(secret=0xC0FFEE)
public = private.publicKey()
signature = Ecdsa.sign("message", private)
check(Ecdsa.verify("message", signature, public), "a genuine signature verifies")
check(not Ecdsa.verify("other", signature, public), "another message fails")
check(not Ecdsa.verify("message", signature, PrivateKey(secret=5).publicKey()), "another key fails")
again = Signature.fromBase64(signature.toBase64())
check((again.r, again.s) == (signature.r, signature.s) and Ecdsa.verify("message", again, public), "base64 round trip")
restored = PublicKey.fromPem(public.toPem())
check(Ecdsa.verify("message", signature, restored), "PEM round trip of the public key")
check(not Ecdsa.verify("message", Signature(signature.r, signature.s + 1), public), "a changed s fails")
print(f"FUNCTIONAL OK ({checks} checks)")
