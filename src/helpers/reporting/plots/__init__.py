"""Charts: one module per subject. They draw prepared tables with the labels they are given and return
the figure; computing lives with the models and segments."""
