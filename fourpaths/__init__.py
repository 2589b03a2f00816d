"""fourpaths: one question through four ways of putting a language model to work."""

__version__ = "0.1.0"
