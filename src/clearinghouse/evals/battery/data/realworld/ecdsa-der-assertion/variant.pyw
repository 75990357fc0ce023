from ecdsa import NIST256p, BadSignatureError, SigningKey
from ecdsa.util import sigdecode_der

verifying_key = SigningKey.from_secret_exponent(42, curve=NIST256p).get_verifying_key()
# SEQUENCE { INTEGER 1, INTEGER 0xff (negative) }
signature = bytes.fromhex("30060201010201ff")
try:
    verifying_key.verify(signature, b"another message", sigdecode=sigdecode_der)
except BadSignatureError:
    print("rejected as a bad signature")
