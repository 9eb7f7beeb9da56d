"""The pure billing rules of minutebill.

Only the standard library, attrs, Babel and dateutil are imported here: no I/O, no clock reads,
no globals. Time is always passed in. The public names are re-exported from `minutebill`.
"""
