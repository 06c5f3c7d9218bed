"""The instructor's tools: run the whole course, keep the Colab links and the README's generated blocks in line
with their sources, and write student copies. They build on :mod:`helpers`; lessons and ``helpers`` never import
this package."""
