"""Domain vocabulary of the control plane: entity statuses, their transition tables, and errors.

Pure: imports nothing from the store, the API, Ray or Kubernetes.
"""
