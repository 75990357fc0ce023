"""The OSV quality gate at intake, modelled on osv-linter's rule families (ossf/osv-linter:
SCH schema, REC record, RNG range, PKG package). A record that breaks the schema is refused
with the stable code SCH0001; every other record is stored with its findings
(`vulnerability_import_findings`), listed at `GET /api/v1/import-findings` like osv.dev's
`importfindings`. The codes and checks are ours (docs/osv.md lists them); osv-linter's own
checks that need the network (does the package or version exist in its registry) are not run."""
