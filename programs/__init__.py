"""The course's programs, run from the command line: ``programs.train`` (the recipe as a script, lesson 07),
``programs.bench`` (``make bench``, lesson 06), ``programs.sweep`` (recipes scored on validation), and the
checks the Makefile runs before installing. They build on :mod:`helpers`; ``helpers`` never imports them."""
