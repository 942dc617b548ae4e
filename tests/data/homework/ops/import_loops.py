"""Code at the top level that never ends: the import itself hangs."""

while True:
    pass


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
