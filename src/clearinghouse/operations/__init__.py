"""Instance operations an operator or coordinator runs: master-key rotation, the job queue."""
