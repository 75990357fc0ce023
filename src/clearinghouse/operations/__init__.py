"""Instance operations an operator or coordinator runs: master-key rotation, reading the audit
trail and the job queue."""
