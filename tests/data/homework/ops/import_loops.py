"""Code at the top level that never ends: the import itself hangs."""

while True:
    pass
