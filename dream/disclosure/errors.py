"""Errors of the disclosure control, each with a message a person can act on."""

from __future__ import annotations

from dream.errors import DreamError


class DisclosureError(DreamError):
    """The table cannot be protected as asked (e.g. the previous release pins a cell that must be hidden)."""


class DisclosureInputError(DreamError, ValueError):
    """The table handed to the suppression or the audit cannot be used as it is."""


class AuditFailure(DreamError):
    """The audit found suppressed cells that the published cells reveal (exactly, or as a group under the
    threshold). ``problems`` holds one row per such cell."""

    def __init__(self, message: str, problems=None):
        super().__init__(message)
        self.problems = problems
