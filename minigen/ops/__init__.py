"""Primitive Functions, one file per family. Each: forward on arrays, backward on Tensors."""
