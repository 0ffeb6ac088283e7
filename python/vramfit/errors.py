"""The exceptions vramfit raises. Their messages are the command line's one-line errors
(what `vramfit` prints after ``error: ``), naming the setting to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .fit import Plan, Plans
    from .result import Result


class VramfitError(Exception):
    """Base class of every vramfit error."""


class InputError(VramfitError, ValueError):
    """Bad input: an unknown value, an impossible combination, a model that cannot be read.

    The message names the setting (as the CLI flag, e.g. ``--batch``: the keyword argument is
    the same name in snake_case)."""


class HubError(VramfitError, OSError):
    """The Hugging Face Hub refused (gated, missing), failed (network, server), or is offline
    (``HF_HUB_OFFLINE=1``) without the file in the cache."""


class DoesNotFit(VramfitError):
    """Raised by :func:`vramfit.check` when the workload does not fit its GPUs.

    ``result`` is the estimate (its breakdown), ``plans`` the ranked plans that make it fit
    (empty when none does) and ``best_plan`` the first of them, or ``None``."""

    def __init__(self, message: str, result: "Result", plans: "Plans") -> None:
        super().__init__(message)
        self.result = result
        self.plans = plans

    @property
    def best_plan(self) -> Optional["Plan"]:
        return self.plans[0] if self.plans else None
