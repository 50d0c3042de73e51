"""Hand-written Triton kernels, one file per op family, installed as ``minigan.kernels``.

Each kernel registers itself in ``minigan.backend`` under the same op name as the NumPy
reference it is checked against; on a machine without a GPU the kernels run under
``TRITON_INTERPRET=1`` on NumPy arrays for the tests.
"""
