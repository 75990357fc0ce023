"""Coordinated disclosure (issue 14): cases with vendors under embargo, per-vendor statuses,
TLP-labelled messages, sealed artifacts, a timeline, the disclosure deadline engine, and the
clearinghouse as a CNA (`cna/`: CVE ids through CVE Services)."""
