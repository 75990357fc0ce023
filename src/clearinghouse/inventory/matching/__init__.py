"""Matching components against advisories: an index over the one OSV range evaluator
(`vulns.ranges`), and the candidate lookup for one advisory."""
