"""Versioned catalog data files (accelerator specs, cloud prices); see PROVENANCE.md."""
