from ecdsa import NIST256p, BadSignatureError, SigningKey
from ecdsa.util import sigdecode_der, sigencode_der


def der_integer(value, pad):
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # minimal, sign bit clear
    body = b"\x00" * pad + body
    return b"\x02" + bytes([len(body)]) + body


key = SigningKey.from_secret_exponent(123456789, curve=NIST256p)
message = b"transfer 10 coins to bob"
signature = key.sign_deterministic(message, sigencode=sigencode_der)
r, s = sigdecode_der(signature, key.curve.order)
# The same (r, s) with a needless zero byte in front of r: another byte string, which DER forbids.
body = der_integer(r, 1) + der_integer(s, 0)
tampered = b"\x30" + bytes([len(body)]) + body
assert tampered != signature
try:
    ok = key.get_verifying_key().verify(tampered, message, sigdecode=sigdecode_der)
except BadSignatureError:
    print("rejected")
else:
    print("accepted:", ok)
    if ok:
        print("VULNERABLE: a second encoding of the signature verified (malleable DER)")
