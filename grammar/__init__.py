"""The QScript grammar, shipped as package data (installed as ``qscript.grammar``).

The grammar file lives at the top of the repository so it can be read on its
own; pyproject.toml maps this folder into the wheel as ``qscript/grammar``.
"""
