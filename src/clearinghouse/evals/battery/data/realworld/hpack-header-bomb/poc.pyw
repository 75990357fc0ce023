from hpack import Decoder, Encoder

# One large header added to the dynamic table, then referenced again and again by its
# one-byte index: a small block that decodes into a huge header list.
encoder = Encoder()
first = encoder.encode([("x-big", "A" * 4000)])
index_byte = bytes([0x80 | 62])  # "indexed header field", dynamic table entry 62
block = first + index_byte * 5000
decoder = Decoder()
try:
    headers = decoder.decode(block)
except Exception as exc:
    print("refused:", type(exc).__name__)
else:
    size = sum(len(name) + len(value) for name, value in headers)
    print(f"{len(block)} bytes decoded into {len(headers)} headers, {size} bytes")
    if size > 100 * len(block):
        print("VULNERABLE: the header block expanded without a limit")
