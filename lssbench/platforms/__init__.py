"""Platform adapters: lssbench as the scoring program of Codabench (codabench.py) and the
evaluation container of Grand Challenge (grand_challenge.py, Dockerfile). See docs/platforms.md."""
