// Runs the BSI/secvisogram CSAF validator (schema + mandatory tests) on the files named on argv
// and prints one JSON line: [{file, isValid, failed: [{name, errors}]}]. Used by the VEX tests
// (tests/vulns/publication/test_vex.py); the library is at node_modules/@secvisogram/....
import { readFileSync } from 'node:fs'
import * as schemaTests from '@secvisogram/csaf-validator-lib/schemaTests.js'
import * as mandatoryTests from '@secvisogram/csaf-validator-lib/mandatoryTests.js'
import validate from '@secvisogram/csaf-validator-lib/validate.js'

const tests = [...Object.values(schemaTests), ...Object.values(mandatoryTests)]
const out = []
for (const file of process.argv.slice(2)) {
  const result = await validate(tests, JSON.parse(readFileSync(file, 'utf8')))
  out.push({
    file,
    isValid: result.isValid,
    failed: result.tests
      .filter((t) => !t.isValid)
      .map((t) => ({ name: t.name, errors: t.errors.map((e) => e.message) })),
  })
}
process.stdout.write(JSON.stringify(out))
