"""The orchestrators: resolve once, then discover, verify, audit and evaluate.

Each command has one module here that decides what to fetch and in what order; everything it calls is a
pure function or an edge doing I/O through the ``ImageStore`` protocol.
"""
