"""TEMPORARY, deleted at the merge of issue 10: evals still does
`from clearinghouse.reviews import services as reviews` and another branch is moving that code.
Nothing else may import this module; import the sub-domain modules instead."""

from clearinghouse.reviews.access import reveal_api_key
from clearinghouse.reviews.reports import add_report
from clearinghouse.reviews.submissions import load_submission
from clearinghouse.reviews.transitions import start_testing

__all__ = ["add_report", "load_submission", "reveal_api_key", "start_testing"]
