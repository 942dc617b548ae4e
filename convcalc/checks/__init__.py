"""Checks: every independent truth convcalc is validated against, and the runner that compares.

Paddle's own summary/flops (``crosscheck``), its backward program
(``backward_program``, ``training_cost``), fields by gradient
(``gradient_fields``), the custom-model corpus (``corpus``), the property-test
budgets and the validation runner with its worker pool.  A truth never imports
the analysis it checks: only ``convcalc.analysis.records`` (the report being
checked) and, in ``subject``, the entry points that produce it (an import
contract in pyproject.toml).
"""
