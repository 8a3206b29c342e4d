"""Normalizing flows: log p(x) = log p(f(x)) + log |det df/dx| (to come: NICE, RealNVP, Glow, MAF, IAF, planar flows)."""
