"""What a run's scores mean: statistics (`stats`), risk tiers (`tiers`, rules in
`data/tiers.yaml`) and the review report (`report`)."""
