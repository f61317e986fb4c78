"""Errors a person can act on. The CLI prints their message and exits non-zero, without a stack trace."""


class DreamError(Exception):
    """Base class: the message says what is wrong and what to do about it."""


class ConfigError(DreamError, ValueError):
    pass


class ReferenceDataError(DreamError, ValueError):
    pass


class InputError(DreamError, ValueError):
    """The delivered input cannot be used: nothing is published."""


class ReconciliationError(DreamError):
    pass


class RefreshLockedError(DreamError):
    """Another refresh holds the warehouse."""
