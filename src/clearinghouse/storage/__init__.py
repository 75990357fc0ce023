"""Shared infrastructure: the database, migrations, sealed values (envelope encryption),
blobs and the durable job queue."""
