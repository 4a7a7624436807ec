"""Synthetic training data: conditional GAN, neural style transfer, and the synthetic/real blend-ratio search."""
