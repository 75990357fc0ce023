"""Shared sandbox infrastructure: what the battery, validation, patch verification and scanning
all run on. Imports no domain (core only).

`bwrap` (the bubblewrap sandbox), `inspect_plugin` (the Inspect sandbox environment `bwrap`),
`asan` (build under AddressSanitizer, run on an input), `signature` (the one crash signature),
`errors`."""
