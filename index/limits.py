"""Limits: how long a summary is, by default and at most — for the library, the settings and
the CLI alike.

A module of plain constants that imports nothing, so that `storybot summary --help` can show the
range without loading numpy or pydantic (as `index/quality/train_config.py` does for training).
"""

SUMMARY_SENTENCES = 5  # a summary that asks for no number (STORYBOT_SUMMARY_SENTENCES)
MAX_SENTENCES = 10  # the longest summary: /summary N, storybot summary -n and the setting's bound
