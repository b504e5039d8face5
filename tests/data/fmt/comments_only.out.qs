# An indented comment in an otherwise empty script.

# Another, after a blank line.
