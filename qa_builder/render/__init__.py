"""Render stage: Agreement → DOCX (docxtpl) → PDF/A (LibreOffice) with signature fields."""
