"""Experiment grids of the paper's tables and figures, collated into reports/studies/."""
