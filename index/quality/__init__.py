"""Answer quality, offline: the labelled sets, their metrics, fitting the retriever's parameters
and training and fitting the reader. Nothing on the answer path imports this package
(tests/test_architecture.py checks); `storybot eval`, `tune` and `train` do."""
