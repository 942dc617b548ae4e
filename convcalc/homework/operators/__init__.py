"""``verify-op``: a student's own operator run in a throwaway sandbox and compared with Paddle's.

``verify_op`` plans the configurations, judges the arrays and names the mistake; ``sandbox`` confines the
student's process; ``_sandbox_init`` (PID 1 inside) and ``_verify_worker`` run there as scripts.  Imports no
other part of homework, and nothing here imports sympy or the analysis.
"""
