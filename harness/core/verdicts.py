"""The words of a verdict: the steps a candidate must pass, and the reasons a
cycle's decision gives. One table each; JSON carries their values as they are."""

from __future__ import annotations

from enum import StrEnum


class StepName(StrEnum):
    """The steps a candidate must pass, in order."""

    BUILD = "build"
    BOOT = "boot"
    WORKLOAD = "workload"
    CENSUS = "census"  # what a shell sees of the kernel, on a machine of its own
    REGRESSION = "regression"
    ENOSYS = "enosys"
    LIMITS = "limits"  # the cycle's budget, resident bytes and MemAvailable
    REPRODUCE = "reproduce"  # the search's minimal.config, built from scratch, gives this image


class Reason(StrEnum):
    """A candidate's decision in its cycle."""

    SELECTED = "selected"
    LARGER_THAN_SELECTED = "larger_than_selected"
    QUALIFIED = "qualified"  # before the choice among the qualified is made
    FAILED_BUILD = "failed_build"
    FAILED_BOOT = "failed_boot"
    FAILED_WORKLOAD = "failed_workload"
    REJECTED_BOOT_REGRESSION = "rejected_boot_regression"
    ENOSYS = "enosys"
    NOT_REPRODUCED = "not_reproduced"
    OVER_BUDGET = "over_budget"  # past the cycle's limits (a budget bucket, resident, memory)
    # Qualified, but prunes syscalls the userspace can call: not selected unless
    # the cycle sets accept_at_risk.
    AT_RISK = "at_risk"
    # (also: it gives up an interface of the kernel, or a syscall the userspace
    # can make, that the cycle's accept_losses does not name)
    NOT_RUN = "not_run"  # a required step has no outcome in this run: no selection
    # A derivation decided its candidate is not worth building.
    NOT_CONCENTRATED = "not_concentrated"  # order: the profile is too flat to order
    PATCH_NOT_APPLIED = "patch_not_applied"  # the kernel tree lacks what it needs


# The decision when a required step failed.
STEP_FAILURE = {
    StepName.BUILD: Reason.FAILED_BUILD,
    StepName.BOOT: Reason.FAILED_BOOT,
    StepName.WORKLOAD: Reason.FAILED_WORKLOAD,
    StepName.CENSUS: Reason.FAILED_WORKLOAD,
    StepName.REGRESSION: Reason.REJECTED_BOOT_REGRESSION,
    StepName.ENOSYS: Reason.ENOSYS,
    StepName.LIMITS: Reason.OVER_BUDGET,
    StepName.REPRODUCE: Reason.NOT_REPRODUCED,
}
