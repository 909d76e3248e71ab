"""Networks: shared blocks, the paired generator U-Nets, the discriminator, the super-resolver."""
