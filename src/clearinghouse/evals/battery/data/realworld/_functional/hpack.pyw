"""Functional checks of hpack: ordinary header blocks round-trip."""

from hpack import Decoder, Encoder

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


headers = [(":method", "GET"), (":path", "/index.html"), (":authority", "example.com"), ("user-agent", "x/1")]
encoder, decoder = Encoder(), Decoder()
check(decoder.decode(encoder.encode(headers)) == headers, "a request's headers")
check(decoder.decode(encoder.encode(headers)) == headers, "again, through the dynamic table")
block = encoder.encode([("x-large", "v" * 30000)])
check(decoder.decode(block) == [("x-large", "v" * 30000)], "a large but reasonable header")
plain = Encoder()
plain.huffman = False
check(Decoder().decode(plain.encode([("a", "b")])) == [("a", "b")], "without Huffman coding")
small = Encoder()
small.header_table_size = 256
d2 = Decoder()
check(d2.decode(small.encode([("k", "v")] * 3)) == [("k", "v")] * 3, "a changed table size")
many = [(f"x-h{i}", str(i)) for i in range(100)]
check(Decoder().decode(Encoder().encode(many)) == many, "a hundred headers")
print(f"FUNCTIONAL OK ({checks} checks)")
