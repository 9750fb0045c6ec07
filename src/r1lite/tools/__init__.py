"""r1lite.tools."""


__all__ = [
]
