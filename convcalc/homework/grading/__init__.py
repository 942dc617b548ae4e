"""Grading: expected values beside the student's, marking, matching, misconception hints, derivations,
per-layer tables of model questions, the answer key and the class gradebook.

May import ``convcalc.homework.answers`` (what it grades), ``convcalc.homework.compute``, the analysis (model
questions) and ``convcalc.render`` (derivation text); never the operator sandbox.
"""
