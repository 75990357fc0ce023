"""The clearinghouse as a CNA: against the CVE Services stand-in."""
