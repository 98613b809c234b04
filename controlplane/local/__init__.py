"""The embedded control plane: the processes ``suanli up`` runs on one machine.

``stack`` is the composition root of the whole thing (API server, controller supervisor, local
Ray cluster, state file); ``controller_main`` is the controller's own process, which the stack
supervises and which also runs on its own (``suanli controller run``); ``state`` reads and
writes the state file the CLI uses to find a running stack.
"""
