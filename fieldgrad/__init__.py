"""fieldgrad: coordinate-aware derivatives of labelled N-D fields."""
__version__ = "0.1.0"
