"""The grader's contract with a learner's kernel: the names both sides must agree on.

The grader sets environment variables for the kernel and injects code that imports
modules by name; the kernel's side (helpers.checks, helpers.pubsub) reads the same
variables. Typed as strings in two places, one side could be renamed and the other not,
and only a grading run would notice. Every such name is here, once.

Light on purpose: a learner's kernel imports this module, so it imports nothing.
"""

from __future__ import annotations

from types import MappingProxyType

# "1" in a kernel the pack's grader runs: a failed check() then raises, so its cell errors.
GRADING_ENV = "COURSE_GRADING"
# A per-user prefix for channel names on a shared Redis; JupyterHub's user name otherwise.
NAMESPACE_ENV = "COURSE_NAMESPACE"
HUB_USER_ENV = "JUPYTERHUB_USER"
# The grader removes both: a kernel and the judge outside it must compute the same names.
NAMESPACE_ENVS = (NAMESPACE_ENV, HUB_USER_ENV)

# What every graded kernel gets on top of its box's environment: grading on, plots drawn
# without a display, no warnings in the outputs the grader reads.
KERNEL_ENV = MappingProxyType({GRADING_ENV: "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"})

# Modules the grader imports inside the kernel by name (in code it runs there).
GUARD_MODULE = "helpers.grading.guard"  # the audit hook, installed before the learner's code
BRIDGE_MODULE = "helpers.bridge"  # the judge's JSON-only line into the learner's objects
CHECKS_MODULE = "helpers.checks"  # what the sandbox probe imports: a kernel can start
INJECTED_MODULES = (GUARD_MODULE, BRIDGE_MODULE, CHECKS_MODULE)
