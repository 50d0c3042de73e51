"""Neural-network building blocks. ``minigan.nn.functional`` holds the stateless ops."""
from minigan.nn import functional

__all__ = ["functional"]
