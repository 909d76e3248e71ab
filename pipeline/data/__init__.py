"""The data half: videos, demo field, frames, copy-paste pairs, crops, own data."""
