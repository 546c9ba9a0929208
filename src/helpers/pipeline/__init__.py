"""Pipeline: the month from input files to published reports.

Preparing the month (`preparation`), running the notebooks and publishing (`runner`), the `workbook`
command (`cli`) and the benchmark (`bench`). The top of the import order: nothing imports it."""
