from ecdsa import NIST256p, BadSignatureError, SigningKey
from ecdsa.util import sigdecode_der

verifying_key = SigningKey.from_secret_exponent(123456789, curve=NIST256p).get_verifying_key()
# SEQUENCE { INTEGER 0x80 (negative: not a valid r), INTEGER 1 }
signature = bytes.fromhex("3006020180020101")
try:
    verifying_key.verify(signature, b"message", sigdecode=sigdecode_der)
except BadSignatureError:
    print("rejected as a bad signature")
