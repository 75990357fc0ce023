"""Functional checks of python-ecdsa: signing and verifying still work, bad signatures fail."""

from ecdsa import NIST256p, SECP256k1, BadSignatureError, SigningKey, VerifyingKey
from ecdsa.util import sigdecode_der, sigdecode_string, sigencode_der, sigencode_string

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


key = SigningKey.from_secret_exponent(31337, curve=NIST256p)
vk = key.get_verifying_key()
sig = key.sign_deterministic(b"msg", sigencode=sigencode_der)
check(vk.verify(sig, b"msg", sigdecode=sigdecode_der), "a DER signature verifies")
raw = key.sign_deterministic(b"msg", sigencode=sigencode_string)
check(vk.verify(raw, b"msg", sigdecode=sigdecode_string), "a raw signature verifies")
try:
    vk.verify(sig, b"other", sigdecode=sigdecode_der)
except BadSignatureError:
    check(True, "another message fails")
else:
    check(False, "another message fails")
restored = VerifyingKey.from_string(vk.to_string(), curve=NIST256p)
check(restored.verify(sig, b"msg", sigdecode=sigdecode_der), "a restored public key")
k1 = SigningKey.from_secret_exponent(7, curve=SECP256k1)
check(k1.get_verifying_key().verify(k1.sign_deterministic(b"x"), b"x"), "another curve")
pem = key.to_pem()
check(SigningKey.from_pem(pem).to_string() == key.to_string(), "PEM round trip")
print(f"FUNCTIONAL OK ({checks} checks)")
