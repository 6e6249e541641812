"""Versioned split definitions, installed as the package data ``lssbench.splitdefs``."""
