"""Page contexts: each function calls library analyses and shapes their results for a template.

They format and pick; they never compute a statistic or write SQL. The HTML report reuses them.
"""
