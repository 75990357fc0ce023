from ellipticcurve.ecdsa import Ecdsa
from ellipticcurve.privateKey import PrivateKey
from ellipticcurve.signature import Signature

public_key = PrivateKey(secret=0x1234567890ABCDEF).publicKey()
message = "transfer 1000 coins to mallory"
forged = Signature(r=0, s=0)  # made without the private key
if Ecdsa.verify(message, forged, public_key):
    print("VULNERABLE: a signature made without the private key verified:", message)
else:
    print("forged signature rejected")
