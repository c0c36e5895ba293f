"""Every guarantee against every adapter, behind a real server on 127.0.0.1.

``apps.py`` holds the rows (one app per framework, built alike), ``test_guarantees.py`` the
columns (one test function per guarantee); ``conftest.py`` serves each row once.
"""
