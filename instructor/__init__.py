"""The instructor's tools: run the whole course, keep the Colab links and the README's generated blocks in line
with their sources, write student copies, generate the environment files from the pins, and check the course on
a GPU machine. They build on :mod:`helpers`; lessons and ``helpers`` never import this package."""
