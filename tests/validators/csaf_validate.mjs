// Runs @secvisogram/csaf-validator-lib (the BSI validator) on the CSAF files given on argv:
// the schema test and every mandatory test of each document's own CSAF version (2.0 or 2.1),
// plus the optional (2.0) / recommended (2.1) tests as warnings. Prints one JSON object:
// {"<file>": {"isValid": bool, "errors": [...], "warnings": [...]}}.
import { readFileSync } from 'node:fs'
import validate from '@secvisogram/csaf-validator-lib/validate.js'
import * as schema20 from '@secvisogram/csaf-validator-lib/schemaTests.js'
import * as mandatory20 from '@secvisogram/csaf-validator-lib/mandatoryTests.js'
import * as optional20 from '@secvisogram/csaf-validator-lib/optionalTests.js'
import * as schema21 from '@secvisogram/csaf-validator-lib/csaf_2_1/schemaTests.js'
import * as mandatory21 from '@secvisogram/csaf-validator-lib/csaf_2_1/mandatoryTests.js'
import * as recommended21 from '@secvisogram/csaf-validator-lib/csaf_2_1/recommendedTests.js'

const flatten = (tests) =>
  tests.flatMap((t) =>
    t.errors.map((e) => ({ test: t.name, path: e.instancePath, message: e.message })),
  )
const warnings = (tests) =>
  tests.flatMap((t) =>
    (t.warnings ?? []).map((e) => ({ test: t.name, path: e.instancePath, message: e.message })),
  )

const out = {}
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  const v21 = doc?.document?.csaf_version === '2.1'
  const mandatory = Object.values(v21 ? { ...schema21, ...mandatory21 } : { ...schema20, ...mandatory20 })
  const optional = Object.values(v21 ? recommended21 : optional20)
  const m = await validate(mandatory, doc)
  const o = await validate(optional, doc)
  out[file] = {
    isValid: m.isValid,
    errors: flatten(m.tests),
    warnings: [...warnings(m.tests), ...flatten(o.tests), ...warnings(o.tests)],
  }
}
process.stdout.write(JSON.stringify(out))
