"""r1lite.generate."""


__all__ = [
]
