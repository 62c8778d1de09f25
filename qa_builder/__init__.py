"""qa-builder: Quality Agreements from answers and a clause library, as DOCX and PDF/A."""

__version__ = "0.1.0"
