"""Functional checks of the HTTP/2 priority tree."""

import priority

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


tree = priority.PriorityTree()
tree.insert_stream(1)
tree.insert_stream(3)
check({next(tree) for _ in range(4)} == {1, 3}, "two streams take turns")
tree.block(1)
check({next(tree) for _ in range(3)} == {3}, "a blocked stream is skipped")
tree.unblock(1)
tree.insert_stream(5, depends_on=1)
tree.block(1)
check(5 in {next(tree) for _ in range(4)}, "a dependent stream runs when its parent is blocked")
tree.remove_stream(3)
check(3 not in {next(tree) for _ in range(4)}, "a removed stream is gone")
tree.reprioritize(5, weight=200)
check(5 in {next(tree) for _ in range(4)}, "reprioritize")
big = priority.PriorityTree()
for stream_id in range(1, 400, 2):
    big.insert_stream(stream_id)
check(len({next(big) for _ in range(400)}) == 200, "two hundred streams")
try:
    tree.insert_stream(5)
except priority.DuplicateStreamError:
    check(True, "a duplicate stream is refused")
else:
    check(False, "a duplicate stream is refused")
print(f"FUNCTIONAL OK ({checks} checks)")
