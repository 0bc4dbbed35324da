"""The GPU runner: one model server for base, massive-weight-ablated and adapted variants (arXiv 2410.01866)."""

__version__ = "0.1.0"
