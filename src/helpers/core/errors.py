"""One base class for a user's mistakes, so that the command line tells them from bugs.

A `WorkbookError` is something the user can fix (a settings key, a column, a month): the `workbook`
command prints its message alone and exits 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class WorkbookError(Exception):
    """A mistake in the user's input or settings; the message names the file, the key or column, and the fix."""


class UsageError(WorkbookError, ValueError):
    """An argument that cannot be used: a month, a language, an engine, a data set name."""
