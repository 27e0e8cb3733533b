"""(being written)"""
__all__ = []
FileWriter = None
