"""One thin module per dvc.yaml stage: `python -m pipeline.stages.<name>`."""
