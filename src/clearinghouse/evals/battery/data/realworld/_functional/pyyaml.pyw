"""Functional checks of PyYAML: what any release must still do after a security fix."""

import yaml

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


doc = "name: app\nports: [80, 443]\nnested:\n  debug: true\n  ratio: 0.5\n"
check(yaml.safe_load(doc) == {"name": "app", "ports": [80, 443], "nested": {"debug": True, "ratio": 0.5}}, "safe_load")
check(yaml.load(doc, Loader=yaml.SafeLoader)["ports"] == [80, 443], "load with SafeLoader")
check(yaml.load("- a\n- b\n") == ["a", "b"], "load of plain data with the default loader")
dumped = yaml.safe_dump({"b": [1, 2], "a": "x"}, default_flow_style=False)
check(yaml.safe_load(dumped) == {"a": "x", "b": [1, 2]}, "safe_dump round trip")
check(list(yaml.safe_load_all("--- 1\n--- two\n")) == [1, "two"], "several documents")
anchors = yaml.safe_load("base: &b {x: 1}\nother: *b\n")
check(anchors["other"] == {"x": 1}, "anchors and aliases")
try:
    yaml.safe_load("key: [unclosed")
except yaml.YAMLError:
    check(True, "a syntax error is a YAMLError")
else:
    check(False, "a syntax error is a YAMLError")
if hasattr(yaml, "full_load"):
    check(yaml.full_load("t: !!python/tuple [1, 2]")["t"] == (1, 2), "full_load of a tuple")
print(f"FUNCTIONAL OK ({checks} checks)")
