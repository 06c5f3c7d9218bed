"""Stop the set-up at once when the Python that would build ``.venv`` cannot run the course.

    python3 programs/check_python.py            # exit 0 and print nothing when this Python will do

The Makefile runs it with ``$(PYTHON)`` before it creates ``.venv``: transformers 5.24 and trl 1.16
require Python 3.11 or newer, and without this check pip fails minutes into the install with a
resolver error that names neither the cause nor the fix. It uses the standard library only and
plain syntax, so that an old Python can run it and say what is wrong.
"""

import sys

MINIMUM = (3, 11)


def python_problem(version_info=None, executable=None, has_venv=True):
    """What stops this Python from creating the course's ``.venv``, with the ways out; None if nothing does."""
    version_info = tuple(sys.version_info if version_info is None else version_info)
    executable = executable or sys.executable or "python3"
    found = ".".join(str(part) for part in version_info[:3])
    wanted = ".".join(str(part) for part in MINIMUM)
    if version_info[:2] < MINIMUM:
        return (
            f"Python {found} found ({executable}), but the course needs Python {wanted} or newer "
            "(transformers 5.24 and trl 1.16 require it).\n"
            "Either\n"
            f"  - install Python {wanted} or newer and name it: make lab PYTHON=python{wanted}\n"
            f"      Ubuntu/Debian: sudo apt install python{wanted} python{wanted}-venv\n"
            f"      macOS (Homebrew): brew install python@{wanted}\n"
            "      or an installer from https://www.python.org/downloads/\n"
            "  - or use conda, which brings its own Python: conda env create -f environment.yml\n"
            "    (then follow the steps at the top of environment.yml)."
        )
    if not has_venv:
        return (
            f"Python {found} ({executable}) cannot create virtual environments: its venv/ensurepip modules are "
            f"missing. On Ubuntu/Debian: sudo apt install python{found.rsplit('.', 1)[0]}-venv"
        )
    return None


def _has_venv():
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    problem = python_problem(has_venv=_has_venv())
    if problem:
        sys.stderr.write(f"error: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
