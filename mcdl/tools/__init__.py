"""Tools around the language: formatter, graph drawing, highlighting, explain.

Each module is one tool and reads the compiler only through its public
interface (``mcdl.compiler``, ``mcdl.frontend.parser``, ``mcdl.ir``):

* ``formatter``: the canonical layout of a spec, keeping its comments
  (``mcdlc fmt``);
* ``graph``: a Graphviz drawing of a checked network (``mcdlc graph``);
* ``explain``: the documentation of a diagnostic code (``mcdlc explain``);
* ``vocabulary``: the keywords, units and built-in names that the
  highlighters share; ``lexer`` (Pygments) and ``textmate`` (editors) read it;
* ``commands``: the ``mcdlc`` subcommands of these tools.
"""
