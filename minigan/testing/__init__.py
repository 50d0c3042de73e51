"""Gradient checks and comparison helpers for minigan's tests and for yours.

* :func:`gradcheck`, :func:`gradgradcheck`: analytical vs numerical derivatives (float64);
* :func:`assert_close`: dtype-aware comparison with a readable report;
* :func:`check_op`: values, gradients, second derivatives and memory layouts in one call;
* :class:`Poisoned`: an array module whose ``empty`` fills with NaN, so that a kernel's
  unwritten output elements show;
* ``minigan.testing.strategies``: hypothesis strategies (needs ``hypothesis``).
"""
from minigan.testing.compare import assert_close, default_tolerances
from minigan.testing.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigan.testing.opcheck import check_op, noncontiguous_variants
from minigan.testing.poisoned import Poisoned

__all__ = ["assert_close", "default_tolerances", "GradcheckError", "gradcheck",
           "gradgradcheck", "check_op", "noncontiguous_variants", "Poisoned"]
