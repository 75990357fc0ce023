"""Instance operations an operator runs at the console: master-key rotation."""
