"""Recurrent networks: static_rnn, dynamic_rnn and their bidirectional forms."""
__all__ = []
