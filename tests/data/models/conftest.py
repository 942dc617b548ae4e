"""Model files loaded by tests/test_zoo.py through ``path/to/file.py:Name``; not tests."""

collect_ignore_glob = ["*.py"]
