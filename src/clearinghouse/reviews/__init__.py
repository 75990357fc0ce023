"""Reviews: the voluntary pre-release review program.

Agreements, submissions, 30-day review windows, findings and report versions. Nothing in this
package approves, clears or blocks a model release: a review delivers findings before the
deadline, and a window that passes its deadline lapses.
"""
