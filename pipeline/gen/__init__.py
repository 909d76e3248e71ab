"""The generator half: diffusion, networks, generator and super-resolver, sampling."""
