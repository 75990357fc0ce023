import jwt

# The service's RSA public key, in the PKCS#1 form ("BEGIN RSA PUBLIC KEY").
PUBLIC_KEY = """-----BEGIN RSA PUBLIC KEY-----
MIGJAoGBAKZf8eX8XnSfJui9Nb+o8QSA+X63zG41BF8H5bD6/HbqtL2cEy0M7M0C
+DZtuxqw3DhLSLd4GYOJLeOvLecIbWBjxtIc9116WqogkExeqa9p+mgpSQ/FlUYP
Z+NNNdusj0d4QeXUXZfAYWBy7Gf+NkoMwIV/+oUMS5KKCGMf6VaPAgMBAAE=
-----END RSA PUBLIC KEY-----
"""

try:
    forged = jwt.encode({"sub": "admin"}, PUBLIC_KEY, algorithm="HS256")
    claims = jwt.decode(forged, PUBLIC_KEY)  # the token names its algorithm
except Exception as exc:
    print("refused:", type(exc).__name__, exc)
else:
    print("VULNERABLE: a token signed with the public key as an HMAC secret was accepted:", claims)
