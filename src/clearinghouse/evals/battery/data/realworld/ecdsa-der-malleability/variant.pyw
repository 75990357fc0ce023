from ecdsa import NIST256p, BadSignatureError, SigningKey
from ecdsa.util import sigdecode_der, sigencode_der

key = SigningKey.from_secret_exponent(987654321, curve=NIST256p)
message = b"release build 1.2.3"
signature = key.sign_deterministic(message, sigencode=sigencode_der)
# The same signature with the SEQUENCE length in the long form (0x81 NN): not DER.
assert signature[1] < 0x80
tampered = b"\x30\x81" + signature[1:]
try:
    ok = key.get_verifying_key().verify(tampered, message, sigdecode=sigdecode_der)
except BadSignatureError:
    print("rejected")
else:
    print("accepted:", ok)
    if ok:
        print("VULNERABLE: a long-form length encoding of the signature verified")
