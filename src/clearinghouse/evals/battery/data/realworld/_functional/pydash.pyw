"""Functional checks of pydash's path functions."""

import pydash

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


class Profile:
    def __init__(self):
        self.name = "alice"
        self.tags = ["a", "b"]

    def greet(self, who):
        return f"hi {who}"


data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
check(pydash.get(data, "a.b.1.c") == 2, "nested dict and list")
check(pydash.get(data, ["a", "b", 0, "c"]) == 1, "a list path")
check(pydash.get(data, "a.x.y", "default") == "default", "a default")
profile = Profile()
check(pydash.get(profile, "tags.1") == "b" and pydash.get(profile, "name") == "alice", "object attributes")
check(pydash.invoke(profile, "greet", "bob") == "hi bob", "invoke")
check(pydash.set_({}, "x.y", 3) == {"x": {"y": 3}}, "set_")
check(pydash.property_("a.b.0.c")(data) == 1, "property_")
check(pydash.has(data, "a.b") and not pydash.has(data, "a.z"), "has")
print(f"FUNCTIONAL OK ({checks} checks)")
