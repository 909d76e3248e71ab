"""SynthSet: paired wheat-field image and wheat-head mask synthesis as a DVC pipeline."""
