"""QScript: a queue-script language, compiler and runtime for call and contact centres.

The language lives in this package, one module per pipeline stage:
source → lexer → parser (AST) → checker → flow → compiler → bytecode.
Use :mod:`qscript.api` from Python; ``qscript`` on the command line.
"""

__version__ = "0.1.0"
