"""The worker shell: runs durable jobs from the database queue."""
