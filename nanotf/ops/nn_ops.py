"""(being written)"""
__all__ = []


def _losses_namespace():
    return {}
