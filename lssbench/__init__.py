"""lssbench: benchmark, evaluation suite and leaderboard for the LSS-MRI-AISSLab lumbar MRI dataset."""

__version__ = "0.1.0"
